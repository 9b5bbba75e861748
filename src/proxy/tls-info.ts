/**
 * TLS configuration (what the CLI read from files) and what a finished handshake tells us, in the
 * shape of the `open` record's `tls` field.
 */
import type { X509Certificate } from 'node:crypto';
import type * as tls from 'node:tls';
import { isTlsTransport, type Transport } from './address.js';
import type { ClientVerification } from './peer.js';

/** mqtts:// and wss:// listeners: our certificate, and optionally client certificates to ask for. */
export interface TlsServerConfig {
  cert: string | Buffer;
  key: string | Buffer;
  /** CAs that client certificates are verified against (with requestCert). */
  ca?: string | Buffer;
  /**
   * Ask clients for a certificate. Every client is accepted either way: the `open` record says
   * whether its certificate verified (`clientCert.valid`) and why not; the broker decides the rest.
   */
  requestCert?: boolean;
}

/** mqtts:// and wss:// upstreams. */
export interface TlsClientConfig {
  /** CAs the broker's certificate is verified against (default: Node's bundled roots). */
  ca?: string | Buffer;
  /** Our client certificate for brokers that require one (mTLS). */
  cert?: string | Buffer;
  key?: string | Buffer;
  /** SNI and the name the certificate must carry (default: the upstream host, unless an IP). */
  servername?: string;
  /** ALPN protocols offered, e.g. `['mqtt']` (AWS IoT on 443 wants `x-amzn-mqtt-ca`). */
  alpn?: string[];
  /** Skip certificate verification (`--insecure`). Default false: verified. */
  insecure?: boolean;
}

/** `CN=foo, O=bar` from Node's newline-separated distinguished name. */
function dn(text: string | undefined): string | undefined {
  if (text === undefined || text === '') return undefined;
  return text.split('\n').join(', ');
}

function describeCert(socket: tls.TLSSocket): Record<string, unknown> | null {
  const raw = socket.getPeerX509Certificate?.();
  if (raw === undefined) return null;
  const cert: X509Certificate = raw;
  const out: Record<string, unknown> = {
    subject: dn(cert.subject) ?? null,
    issuer: dn(cert.issuer) ?? null,
    fingerprint256: cert.fingerprint256,
    valid: socket.authorized,
  };
  if (!socket.authorized) {
    const why = socket.authorizationError;
    // Node types say Error; at run time it is the OpenSSL code as a string (or an Error).
    const code: unknown = typeof why === 'object' && why !== null && 'code' in why ? why.code : why;
    if (typeof code === 'string') out.error = code;
    else if (why instanceof Error) out.error = why.message;
  }
  if (cert.subjectAltName !== undefined) out.subjectAltName = cert.subjectAltName;
  out.serialNumber = cert.serialNumber;
  out.validFrom = cert.validFrom;
  out.validTo = cert.validTo;
  return out;
}

/**
 * The handshake of an accepted client: protocol, cipher, SNI, ALPN and, when certificates were
 * requested, the client's (or null when it sent none).
 */
export function serverSideTlsInfo(socket: tls.TLSSocket, requestCert: boolean): Record<string, unknown> {
  const servername = socket.servername;
  const alpn = socket.alpnProtocol;
  const info: Record<string, unknown> = {
    protocol: socket.getProtocol() ?? null,
    cipher: socket.getCipher()?.standardName ?? null,
    servername: typeof servername === 'string' && servername !== '' ? servername : null,
    alpn: typeof alpn === 'string' && alpn !== '' ? alpn : null,
  };
  if (requestCert) info.clientCert = describeCert(socket);
  return info;
}

/** Whether an accepted client's certificate verified against the listener's CAs, and if not why. */
export function clientVerification(socket: tls.TLSSocket): ClientVerification {
  if (socket.authorized) return { verified: true };
  if (socket.getPeerX509Certificate?.() === undefined)
    return { verified: false, reason: 'no client certificate' };
  const why = socket.authorizationError;
  const code: unknown = typeof why === 'object' && why !== null && 'code' in why ? why.code : why;
  return { verified: false, reason: typeof code === 'string' ? code : 'not verified' };
}

/**
 * Why clients of a listener could not be kept from using mqtt-tap's upstream client certificate,
 * or undefined when they can: only a TLS listener that asks for certificates and checks them
 * against given CAs knows who its clients are.
 */
export function unverifiableClients(
  transport: Transport,
  requestCert: boolean,
  hasCa: boolean,
): string | undefined {
  if (!isTlsTransport(transport)) return 'cannot show a certificate (not an mqtts:// or wss:// listener)';
  if (!requestCert) return 'are not asked for a certificate (no --tls-request-cert)';
  if (!hasCa) return 'have their certificates checked against no CA of yours (no --tls-ca)';
  return undefined;
}

/**
 * ALPN as a transparent server would: `mqtt` when offered, else whatever the client asked for
 * first (the open record shows it), never a handshake failure over ALPN.
 */
export function pickAlpn({ protocols }: { protocols: string[] }): string | undefined {
  if (protocols.includes('mqtt')) return 'mqtt';
  return protocols[0];
}

/** tls.createServer options for a TlsServerConfig. */
export function serverOptions(config: TlsServerConfig): tls.TlsOptions {
  const opts: tls.TlsOptions = {
    cert: config.cert,
    key: config.key,
    requestCert: config.requestCert === true,
    // Report, do not refuse: see TlsServerConfig.requestCert.
    rejectUnauthorized: false,
    ALPNCallback: pickAlpn,
  };
  if (config.ca !== undefined) opts.ca = config.ca;
  return opts;
}

/** What to try when a TLS handshake with a client failed, from OpenSSL's code. */
export function serverHandshakeHint(code: string | undefined): string | undefined {
  if (code === undefined) return undefined;
  if (
    /WRONG_VERSION_NUMBER|HTTP_REQUEST|UNEXPECTED_RECORD|UNKNOWN_PROTOCOL|PACKET_LENGTH_TOO_LONG/.test(code)
  ) {
    return 'the client does not speak TLS: is it using plain mqtt:// on this mqtts:// listener?';
  }
  if (/UNKNOWN_CA|BAD_CERTIFICATE|CERTIFICATE_UNKNOWN|DECRYPT_ERROR/.test(code)) {
    return "the client does not trust mqtt-tap's certificate: give it the CA that signed --tls-cert (e.g. mosquitto_pub --cafile ca.pem, mqtt.js { ca })";
  }
  if (/CERTIFICATE_EXPIRED/.test(code)) return "the client says mqtt-tap's certificate has expired";
  if (/NO_SHARED_CIPHER|VERSION_TOO_LOW|UNSUPPORTED_PROTOCOL|PROTOCOL_VERSION/.test(code)) {
    return 'no TLS version or cipher in common with the client';
  }
  return undefined;
}

/** What to try when the broker's certificate did not verify, from Node's/OpenSSL's code. */
export function upstreamTlsHint(code: string | undefined): string | undefined {
  if (code === undefined) return undefined;
  if (
    /UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|UNABLE_TO_GET_ISSUER_CERT/.test(
      code,
    )
  ) {
    return "the broker's certificate is not signed by a CA mqtt-tap trusts: pass --upstream-ca FILE (the broker's CA), or --insecure to skip verification";
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return "the broker's certificate is for another name: use the name it carries in --upstream, or --upstream-servername NAME";
  }
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') {
    return "the broker's certificate is outside its validity period (check the clocks)";
  }
  if (
    /ALERT_CERTIFICATE_REQUIRED|ALERT_HANDSHAKE_FAILURE|ALERT_BAD_CERTIFICATE|ALERT_UNKNOWN_CA/.test(code)
  ) {
    return 'the broker refused the handshake: does it require a client certificate (--upstream-cert FILE --upstream-key FILE) it trusts?';
  }
  if (/WRONG_VERSION_NUMBER|UNKNOWN_PROTOCOL/.test(code)) {
    return 'the broker does not speak TLS on this port: use mqtt:// (or ws://)';
  }
  return undefined;
}

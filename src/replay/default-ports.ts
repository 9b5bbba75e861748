/** Broker ports taken for MQTT in a capture that does not say which are. */
export const DEFAULT_MQTT_PORTS: readonly number[] = [1883, 1884];

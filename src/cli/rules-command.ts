import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import type { RuleStatus, RuleVersion } from '../protocol/catalogue/rule-kinds.js';
import { RULES_OPTIONS, withOptions } from './options.js';

interface RulesArgs {
  status?: RuleStatus;
  protocol?: RuleVersion;
}

export const rulesCommand: CommandModule<object, RulesArgs> = {
  command: 'rules',
  describe:
    'Print every normative statement of MQTT 5.0 and 3.1.1 and whether mqtt-tap checks it, one JSON line each',
  builder: (y: Argv) =>
    withOptions<RulesArgs>(y, RULES_OPTIONS)
      .example(
        '$0 rules --status not-yet --protocol 5.0',
        'the MQTT 5.0 statements mqtt-tap does not check yet',
      )
      .example(
        '$0 rules | grep MQTT_INVALID_UTF8',
        'the statements reported as MQTT_INVALID_UTF8',
      ) as unknown as Argv<RulesArgs>,
  handler: async (argv: ArgumentsCamelCase<RulesArgs>) => {
    // Loaded here, not at startup: the proxy never needs the table.
    const { RULES } = await import('../protocol/catalogue/rules.js');
    const lines: string[] = [];
    for (const row of RULES) {
      if (argv.status !== undefined && row.status !== argv.status) continue;
      if (argv.protocol !== undefined && row.version !== argv.protocol) continue;
      lines.push(JSON.stringify(row));
    }
    process.stdout.write(lines.length > 0 ? `${lines.join('\n')}\n` : '');
  },
};

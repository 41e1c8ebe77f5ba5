import { ADMIN_ORDERS, type AdminOrderName, type Command, type JobDescription } from './commands';
import { childNamed, type InfoNode } from './info-node';
import { ProtocolError } from './protocol-error';

type Attributes = Readonly<Record<string, string>>;

interface FlatSpec {
  required: readonly string[];
  optional: readonly string[];
  numeric: readonly string[];
}

/** Commands made only of flat attributes. Numeric ones are checked and converted. */
const FLAT_COMMANDS: Readonly<Record<string, FlatSpec>> = {
  want_getJob: { required: ['agentHost', 'jdl'], optional: ['agentIP', 'jmJobData'], numeric: [] },
  have_getJob: { required: [], optional: ['requireFile'], numeric: [] },
  getJob: { required: ['agentHost', 'jdl'], optional: ['agentIP', 'jmJobData'], numeric: [] },
  want_getJobOutputDir: {
    required: ['agentHost', 'jobID'],
    optional: ['agentIP', 'jmJobData'],
    numeric: [],
  },
  have_getJobOutputDir: { required: [], optional: [], numeric: [] },
  getJobOutputDir: {
    required: ['agentHost', 'jobID'],
    optional: ['agentIP', 'jmJobData'],
    numeric: [],
  },
  storeJobOutputDir: {
    required: ['outputChirpUrl', 'outputDir', 'jobID'],
    optional: ['jmJobData'],
    numeric: [],
  },
  jobDone: {
    required: ['exitCode', 'agentHost', 'state', 'jobID'],
    optional: ['jmJobData'],
    numeric: ['exitCode'],
  },
  jobRefused: { required: ['jobID', 'code', 'reason'], optional: [], numeric: [] },
  renewLease: { required: ['agentHost', 'jobID'], optional: ['jmJobData'], numeric: [] },
  sleep: { required: [], optional: ['seconds'], numeric: ['seconds'] },
  adminOrder: { required: ['order'], optional: ['reason'], numeric: [] },
  reportEvent: { required: ['component', 'event'], optional: [], numeric: [] },
  reportEventDuration: {
    required: ['component', 'event', 'duration'],
    optional: [],
    numeric: ['duration'],
  },
  reportEventValue: {
    required: ['component', 'event', 'value'],
    optional: [],
    numeric: ['value'],
  },
  'Heartbeat:getStatus': { required: ['component'], optional: [], numeric: [] },
  haveStatus: { required: ['component', 'status'], optional: [], numeric: [] },
  'Heartbeat:ping': { required: [], optional: [], numeric: [] },
  pong: { required: [], optional: [], numeric: [] },
};

/** Listing 2.5 spells jobDone's job id `jobId`; the text says `jobID`. Both are read. */
const ATTRIBUTE_ALIASES: Readonly<Record<string, string>> = { jobId: 'jobID' };

function normalisedAttributes(node: InfoNode): Record<string, string> {
  const result: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [name, value] of Object.entries(node.attributes)) {
    const canonical = ATTRIBUTE_ALIASES[name] ?? name;
    if (!(canonical in result)) result[canonical] = value;
  }
  return result;
}

function requireAttribute(attributes: Attributes, name: string, command: string): string {
  const value = attributes[name];
  if (value === undefined) {
    throw new ProtocolError('missing-attribute', `${command} is missing attribute '${name}'`);
  }
  return value;
}

function parseNumber(value: string, name: string, command: string): number {
  const trimmed = value.trim();
  const parsed = Number(trimmed);
  if (trimmed === '' || !Number.isFinite(parsed)) {
    throw new ProtocolError('invalid-attribute', `${command} attribute '${name}' is not a number`);
  }
  return parsed;
}

function decodeFlat(name: string, spec: FlatSpec, attributes: Attributes): Command {
  const fields: Record<string, string | number> = { command: name };
  for (const attribute of spec.required) {
    fields[attribute] = requireAttribute(attributes, attribute, name);
  }
  for (const attribute of spec.optional) {
    const value = attributes[attribute];
    if (value !== undefined) fields[attribute] = value;
  }
  for (const attribute of spec.numeric) {
    const value = fields[attribute];
    if (typeof value === 'string') fields[attribute] = parseNumber(value, attribute, name);
  }
  // The spec table above is the single source of each command's shape.
  return fields as unknown as Command;
}

function decodeJob(node: InfoNode | undefined): JobDescription {
  if (!node) throw new ProtocolError('missing-attribute', 'runJob has no nested <job> element');
  const attributes = normalisedAttributes(node);
  const job: JobDescription = {
    id: requireAttribute(attributes, 'id', 'runJob <job>'),
    command: requireAttribute(attributes, 'command', 'runJob <job>'),
    arguments: attributes.arguments ?? '',
    environment: attributes.environment ?? '',
    packages: attributes.packages ?? '',
    inputFiles: attributes.inputFiles ?? '',
    chirpUrl: attributes.chirpUrl ?? '',
    inputDir: attributes.inputDir ?? '',
    outputDir: attributes.outputDir ?? '',
  };
  if (attributes.validation !== undefined && attributes.validation !== '') {
    job.validation = attributes.validation;
  }
  if (attributes.image !== undefined && attributes.image !== '') job.image = attributes.image;
  return job;
}

function decodeSecureEnvelope(node: InfoNode, attributes: Attributes): Command {
  const inner = childNamed(node, 'info');
  if (!inner) throw new ProtocolError('missing-attribute', 'secure envelope has no nested <info>');
  const envelope: Command = {
    command: 'secure',
    keyId: requireAttribute(attributes, 'key_id', 'secure envelope'),
    nonce: requireAttribute(attributes, 'nonce', 'secure envelope'),
    ciphertext: requireAttribute(inner.attributes, 'data', 'secure envelope'),
  };
  if (attributes.session_key !== undefined) envelope.sessionKey = attributes.session_key;
  return envelope;
}

function isAdminOrderName(value: string): value is AdminOrderName {
  return (ADMIN_ORDERS as readonly string[]).includes(value);
}

/** Turns a decoded <info> node into a typed command, or throws a ProtocolError. */
export function commandFromInfo(node: InfoNode): Command {
  const attributes = normalisedAttributes(node);
  const name = attributes.command;
  if (name === undefined) {
    if (attributes.session_key !== undefined || attributes.key_id !== undefined) {
      return decodeSecureEnvelope(node, attributes);
    }
    throw new ProtocolError('missing-attribute', "<info> has no 'command' attribute");
  }
  if (name === 'runJob') {
    const command: Command = { command: 'runJob', job: decodeJob(childNamed(node, 'job')) };
    if (attributes.jmJobData !== undefined) command.jmJobData = attributes.jmJobData;
    return command;
  }
  if (name === 'redirect') {
    const inner = childNamed(node, 'info');
    if (!inner) throw new ProtocolError('missing-attribute', 'redirect has no nested <info>');
    return {
      command: 'redirect',
      referral: requireAttribute(attributes, 'referral', 'redirect'),
      info: commandFromInfo(inner),
    };
  }
  const spec = FLAT_COMMANDS[name];
  if (!spec) throw new ProtocolError('unknown-command', `unknown command '${name}'`);
  const command = decodeFlat(name, spec, attributes);
  if (command.command === 'adminOrder' && !isAdminOrderName(command.order)) {
    throw new ProtocolError('invalid-attribute', `adminOrder has unknown order '${command.order}'`);
  }
  return command;
}

function stringAttributes(fields: object, skip: ReadonlySet<string>): Record<string, string> {
  const attributes: Record<string, string> = {};
  for (const [name, value] of Object.entries(fields)) {
    if (skip.has(name) || value === undefined) continue;
    attributes[name] = String(value);
  }
  return attributes;
}

const SKIP_NONE: ReadonlySet<string> = new Set();
const SKIP_JOB_AND_INFO: ReadonlySet<string> = new Set(['job', 'info']);

/** Turns a typed command into the <info> node that goes on the wire. */
export function commandToInfo(command: Command): InfoNode {
  switch (command.command) {
    case 'runJob':
      return {
        name: 'info',
        attributes: stringAttributes(command, SKIP_JOB_AND_INFO),
        children: [
          { name: 'job', attributes: stringAttributes(command.job, SKIP_NONE), children: [] },
        ],
      };
    case 'redirect':
      return {
        name: 'info',
        attributes: stringAttributes(command, SKIP_JOB_AND_INFO),
        children: [commandToInfo(command.info)],
      };
    case 'secure': {
      const attributes: Record<string, string> = { key_id: command.keyId, nonce: command.nonce };
      if (command.sessionKey !== undefined) attributes.session_key = command.sessionKey;
      return {
        name: 'info',
        attributes,
        children: [{ name: 'info', attributes: { data: command.ciphertext }, children: [] }],
      };
    }
    default:
      return { name: 'info', attributes: stringAttributes(command, SKIP_NONE), children: [] };
  }
}

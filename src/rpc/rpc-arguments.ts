import type { AgentSettings, UiCommandName, UiCommands } from '../contract/ui-contract';

export class RpcArgumentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RpcArgumentError';
  }
}

function optionalNumber(value: unknown, name: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new RpcArgumentError(`${name} must be a non-negative number`);
  }
  return value;
}

function settingsPatch(value: unknown): Partial<AgentSettings> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new RpcArgumentError('setSettings takes one object of settings');
  }
  // Field-level checks happen in the agent with the shared settings rules.
  return value as Partial<AgentSettings>;
}

/** detachProject, setProjectPaused, setProjectShare: a project id, then a mode, flag or share. */
function projectArguments(name: string, args: readonly unknown[]): unknown[] {
  const [id, value] = args;
  if (typeof id !== 'string' || !/^[a-z0-9]{1,32}$/.test(id)) {
    throw new RpcArgumentError(`${name} takes a project id first`);
  }
  if (name === 'detachProject') {
    if (args.length > 2 || (value !== undefined && value !== 'finish' && value !== 'abort')) {
      throw new RpcArgumentError('detachProject takes a project id and finish or abort');
    }
    return value === undefined ? [id] : [id, value];
  }
  const valid = name === 'setProjectPaused' ? typeof value === 'boolean' : Number.isInteger(value);
  if (args.length !== 2 || !valid) {
    throw new RpcArgumentError(
      `${name} takes a project id and ${name === 'setProjectPaused' ? 'true or false' : 'a whole number'}`,
    );
  }
  return [id, value];
}

/** Checks the JSON argument array of one RPC call against the command's signature. */
export function parseRpcArguments<K extends UiCommandName>(
  name: K,
  args: readonly unknown[],
): UiCommands[K]['args'] {
  const checked = ((): unknown[] => {
    switch (name) {
      case 'getStatus':
      case 'getSettings':
      case 'resume':
      case 'finishThenPause':
      case 'checkContainerEngine':
        if (args.length > 0) throw new RpcArgumentError(`${name} takes no arguments`);
        return [];
      case 'getJobs':
      case 'getLog':
        if (args.length > 1) throw new RpcArgumentError(`${name} takes at most one argument`);
        return args.length === 0 ? [] : [optionalNumber(args[0], 'limit')];
      case 'pause':
        if (args.length > 1) throw new RpcArgumentError('pause takes at most one argument');
        return args.length === 0 ? [] : [optionalNumber(args[0], 'minutes')];
      case 'suspendJob':
      case 'resumeJob':
      case 'abortJob':
        if (args.length !== 1 || typeof args[0] !== 'string' || args[0] === '') {
          throw new RpcArgumentError(`${name} takes one job id`);
        }
        return [args[0]];
      case 'previewAttachLink':
      case 'attachProject':
        // The link itself is checked by the agent (src/protocol/attach-link.ts).
        if (args.length !== 1 || typeof args[0] !== 'string' || args[0].length > 40_000) {
          throw new RpcArgumentError(`${name} takes one attach link`);
        }
        return [args[0]];
      case 'setSettings':
        if (args.length !== 1) throw new RpcArgumentError('setSettings takes exactly one argument');
        return [settingsPatch(args[0])];
      case 'detachProject':
      case 'setProjectPaused':
      case 'setProjectShare':
        return projectArguments(name, args);
      default:
        throw new RpcArgumentError(`unknown command ${String(name)}`);
    }
  })();
  return checked as UiCommands[K]['args'];
}

// Storage clients shared by the agent and the manager; they import only node and src/protocol.
export * from './chirp-error';
export * from './chirp-wire';
export * from './chirp-auth';
export * from './chirp-client';

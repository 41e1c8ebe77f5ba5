export * from './logger';
export * from './backoff';
export * from './seen-ids';
export * from './typed-emitter';
export * from './copilot-session';
export * from './xmpp-service';
export * from './monitor-reporter';

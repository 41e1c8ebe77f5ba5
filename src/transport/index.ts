export * from './copilot-session';
export * from './xmpp-service';
export * from './monitor-reporter';

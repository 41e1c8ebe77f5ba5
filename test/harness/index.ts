// The real-server test harness: private Prosody or ejabberd, and Redis, on free loopback ports;
// the Docker daemon and the job image. See each module for details.
export { freePort, canConnect, waitForPort } from './ports';
export type { WaitForPortOptions } from './ports';
export { REPO_ROOT, logsDir, startProcess, runCommand, ProcessStartError } from './processes';
export type {
  ExitInfo,
  StartProcessOptions,
  ServiceProcess,
  RunCommandOptions,
  RunCommandResult,
} from './processes';
export { startProsody, connectXmpp, withUnverifiedTls } from './prosody';
export type { ProsodyOptions, ProsodyServer, XmppUser, XmppEndpoint, XmppSession } from './prosody';
export { startEjabberd } from './ejabberd';
export type { EjabberdOptions, EjabberdServer } from './ejabberd';
export { startEjabberdCluster } from './ejabberd-cluster';
export type { EjabberdCluster, EjabberdClusterOptions, XmppFront } from './ejabberd-cluster';
export { startTcpBalancer } from './tcp-balancer';
export type { TcpBalancer, TcpBackend } from './tcp-balancer';
export {
  TEST_XMPP_VARIABLE,
  XMPP_SERVER_KINDS,
  startTestXmppServer,
  startXmppServer,
  testXmppServerKind,
} from './xmpp-server';
export type { XmppServer, XmppServerKind, XmppServerOptions } from './xmpp-server';
export { startRedis, redisPing } from './redis';
export type { RedisOptions, RedisServer } from './redis';
export {
  JOB_IMAGE,
  JOB_IMAGE_SCRIPT,
  JOB_IMAGE_RECIPE_LABEL,
  ensureDocker,
  ensureJobImage,
  runContainer,
  demuxDockerLog,
} from './docker';
export type { RunContainerOptions, RunContainerResult } from './docker';
export { startSession } from './copilot-session';
export { startChirp } from './chirp';
export type { ChirpOptions, ChirpServer } from './chirp';
export { until } from './until';
export { startPodman } from './podman';
export type { PodmanServer } from './podman';
export { startRegistry, pushImage, removeLocalImage } from './registry';
export type { RegistryServer, RegistryOptions } from './registry';

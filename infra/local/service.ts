/** What the local-services runner needs to know about one server (Kafka or Cassandra). */
export interface LocalService {
  readonly name: 'kafka' | 'cassandra';
  /** The service's folder under the state dir: config, data, logs, pid file. */
  readonly dir: string;
  readonly pidFile: string;
  /** The log to show when the service fails to start. */
  readonly logFile: string;
  /** The file the JVM's stdout/stderr go to. */
  readonly consoleFile: string;
  /** Appears in the JVM's command line; identifies the process as ours. */
  readonly marker: string;
  readonly ports: { name: string; port: number }[];
  /** host:port for clients. */
  readonly address: string;
  /** Writes config files, formats storage; idempotent. */
  prepare(jarsDir: string): Promise<void>;
  command(jarsDir: string): { command: string; args: string[] };
  /** Resolves when the service answers clients; throws otherwise. */
  probe(): Promise<string>;
}

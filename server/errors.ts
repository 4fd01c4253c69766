/**
 * The server's expected start-up failures, one class each, so the command
 * line can tell them from bugs: an expected failure is reported as its one
 * line (`Cannot <action>: <reason>`) and exit code 1; anything else is a bug,
 * reported with its stack.
 *
 * | class              | when                                                       |
 * |--------------------|------------------------------------------------------------|
 * | `PortInUseError`   | the port is taken by another program                       |
 * | `ListenError`      | the address cannot be listened on (not local, no IPv6, ...) |
 * | `DataFolderError`  | the data folder cannot be created, read or written         |
 * | `RegistryError`    | the registry cannot be opened: locked, corrupt, unreachable |
 *
 * @module
 */

/** An expected reason why the server cannot start; its message is one line. */
export class StartupError extends Error {
  /**
   * Creates the error.
   *
   * @param message `Cannot <action>: <reason>`, one line.
   * @param options Standard error options; `cause` is the underlying error.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "StartupError";
  }
}

/** Another program listens on the port. */
export class PortInUseError extends StartupError {
  /** The address as printed, e.g. `0.0.0.0:1256` or `[::]:1256`. */
  readonly address: string;
  /** The port that is taken. */
  readonly port: number;
  /** Why it cannot be listened on: `the port is in use`. */
  readonly reason = "the port is in use";

  /**
   * Creates the error.
   *
   * @param address The address as printed, e.g. `0.0.0.0:1256` or `[::]:1256`.
   * @param port The port that is taken.
   * @param options Standard error options; `cause` is `Deno.errors.AddrInUse`.
   */
  constructor(address: string, port: number, options?: ErrorOptions) {
    super(`Cannot listen on ${address}: the port is in use`, options);
    this.name = "PortInUseError";
    this.address = address;
    this.port = port;
  }
}

/** The address cannot be listened on (for example it is not this machine's). */
export class ListenError extends StartupError {
  /** The address as printed, e.g. `[::1]:1256`. */
  readonly address: string;
  /** Why it cannot be listened on (the system's words). */
  readonly reason: string;

  /**
   * Creates the error: `Cannot listen on <address>: <reason>`.
   *
   * @param address The address as printed, e.g. `[::1]:1256`.
   * @param reason Why it cannot be listened on.
   * @param options Standard error options; `cause` is the system's error.
   */
  constructor(address: string, reason: string, options?: ErrorOptions) {
    super(`Cannot listen on ${address}: ${reason}`, options);
    this.name = "ListenError";
    this.address = address;
    this.reason = reason;
  }
}

/** The data folder cannot be created, read or written. */
export class DataFolderError extends StartupError {
  /**
   * Creates the error.
   *
   * @param message `Cannot prepare the data folder <dir>: <reason>`.
   * @param options Standard error options; `cause` is the file system error.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "DataFolderError";
  }
}

/** The registry cannot be opened: the database is locked, corrupt or unreachable. */
export class RegistryError extends StartupError {
  /**
   * Creates the error.
   *
   * @param message `Cannot open database <where>: <reason>`.
   * @param options Standard error options; `cause` is the driver's error.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "RegistryError";
  }
}

/** Which installation states exist (verifier-core's InstallationStatus). */
export type InstallationStatus = "PENDING" | "COMPLETED" | "DISABLED" | "UNINSTALLED";

export interface Installation {
  id: string;
  status: InstallationStatus;
  config: Record<string, unknown>;
  [more: string]: unknown;
}

export interface Context {
  project: { id: string; name: string; mgmtApi: string; [more: string]: unknown };
  environment: {
    id: string;
    name: string;
    endpoint: string;
    /**
     * A short-lived SESSION token minted for this frame, with the app's
     * grants; the platform refreshes it before it expires (onContextChange).
     */
    authToken: string;
    [more: string]: unknown;
  };
  installation: Installation;
  user?: { id: string; [more: string]: unknown };
  [more: string]: unknown;
}

export interface InitOptions {
  /**
   * Pins the one origin the platform is served from, e.g.
   * "https://studio.example.com" (no "*"). Without it (and without
   * `parentOrigins`) the origin is learned from the browser.
   */
  parentOrigin?: string;
  /** Pins several origins; the browser's report picks the one framing the app. */
  parentOrigins?: string[];
  /** How long the handshake and each call wait for the parent (default 10000). */
  timeoutMs?: number;
}

export interface InstallationUpdate {
  status?: InstallationStatus;
  config?: Record<string, unknown>;
}

/** Stable reasons carried in `TallyError.code`. */
export type TallyErrorCode =
  | "invalid_argument"
  | "not_in_frame"
  | "no_parent_origin"
  | "parent_not_pinned"
  | "timeout"
  | "protocol"
  | "closed"
  | "no_setup_code"
  | "exchange_failed"
  | "network"
  | "browser"
  | "not_handled"
  | "unknown_method"
  | "handler_failed"
  | (string & {});

/** Every rejection of the SDK: an Error named "TallyError". */
export interface TallyError extends Error {
  name: "TallyError";
  code: TallyErrorCode;
  /** HTTP status, for code "exchange_failed". */
  status?: number;
}

export declare class App {
  private constructor();
  readonly context: Context;
  readonly installation: Installation;
  setupCode(): string | null;
  managementApiBaseUrl(): string;
  updateInstallation(update: InstallationUpdate): Promise<Installation>;
  /** Posts { code, environmentId, managementApiBaseUrl } to the app backend (default /api/exchangeSetupCode). */
  exchangeSetupCode<T = Record<string, unknown>>(options?: { endpoint?: string }): Promise<T>;
  /** A session token that is not due for refresh (fetched by the platform when needed). */
  getSessionToken(): Promise<string>;
  showToast(toast: { message: string; variant?: "info" | "success" | "warning" | "error" }): Promise<unknown>;
  resize(size: { height: number; width?: number }): Promise<unknown>;
  onContextChange(callback: (context: Context) => void): () => void;
  close(): void;
}

export declare function init(options?: InitOptions): Promise<App>;
export declare function ready(): Promise<unknown>;
export declare function isTallyError(err: unknown): err is TallyError;

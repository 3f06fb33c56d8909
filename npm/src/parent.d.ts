import type { Context, DialogElement, Element, Installation, InstallationUpdate } from "./index.js";

export interface AppFrameHandlers {
  /** Apply the change on the platform; resolve with the updated installation. */
  updateInstallation?(update: InstallationUpdate): Installation | Promise<Installation>;
  showToast?(toast: { message: string; variant?: "info" | "success" | "warning" | "error" }): unknown;
  /** Without it the bridge sets the iframe's height (and width) itself. */
  resize?(size: { height: number; width?: number }): unknown;
  /**
   * Mint a SESSION token for the frame (`POST /v1/installations/{i}/session-token`);
   * `expiresIn` in seconds. With it the bridge owns `context.environment.authToken`:
   * fetched when the app connects, refreshed at 80 % of its lifetime and pushed,
   * and given to the app's `getSessionToken()`.
   */
  getSessionToken?(): { token: string; expiresIn: number } | Promise<{ token: string; expiresIn: number }>;
  /** A field element's value, already checked against its field's type (field elements only). */
  setValue?(value: unknown): unknown;
  /** A field element's validity: a message, or null when valid (field elements only). */
  setInvalid?(message: string | null): unknown;
  /** Open a dialog frame of the same app at `url` (on the app's origin); resolve with its closeDialog value. */
  openDialog?(request: { url: string; options?: DialogElement["options"] }): unknown;
  /** The dialog's value (dialog frames only). */
  closeDialog?(value: unknown): unknown;
  /** Move the platform to `to`, a path within it. */
  navigate?(request: { to: string }): unknown;
  /** Ask the person; resolve with true or false. */
  confirm?(question: { message: string; title?: string }): boolean | Promise<boolean>;
}

/** A context whose session token the bridge fills in (`handlers.getSessionToken`). */
export interface ContextWithoutToken {
  project: Context["project"];
  environment: { id: string; name: string; endpoint: string; authToken?: string; [more: string]: unknown };
  installation: Installation;
  user?: Context["user"];
  element?: Element;
  [more: string]: unknown;
}

export interface AppFrameOptions {
  iframe: HTMLIFrameElement;
  /** The app's one origin, e.g. "https://app.example.com". No "*". */
  appOrigin: string;
  /** `environment.authToken` may be left out when `handlers.getSessionToken` is given. */
  context: Context | ContextWithoutToken;
  handlers?: AppFrameHandlers;
}

export declare class AppFrame {
  private constructor();
  /** The context the app sees. */
  readonly context: Context;
  /** Whether an app has completed the handshake. */
  readonly connected: boolean;
  /** Replaces the context and pushes it to the app (keeping the bridge's session token, if it has one). */
  setContext(context: Context | ContextWithoutToken): void;
  /** Stops answering and removes the listener. */
  destroy(): void;
}

export declare function createAppFrame(options: AppFrameOptions): Promise<AppFrame>;
export declare function ready(): Promise<unknown>;

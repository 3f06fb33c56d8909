import type { Context, Installation, InstallationUpdate } from "./index.js";

export interface AppFrameHandlers {
  /** Apply the change on the platform; resolve with the updated installation. */
  updateInstallation?(update: InstallationUpdate): Installation | Promise<Installation>;
  showToast?(toast: { message: string; variant?: "info" | "success" | "warning" | "error" }): unknown;
  /** Without it the bridge sets the iframe's height (and width) itself. */
  resize?(size: { height: number; width?: number }): unknown;
}

export interface AppFrameOptions {
  iframe: HTMLIFrameElement;
  /** The app's one origin, e.g. "https://app.example.com". No "*". */
  appOrigin: string;
  context: Context;
  handlers?: AppFrameHandlers;
}

export declare class AppFrame {
  private constructor();
  /** The context the app sees. */
  readonly context: Context;
  /** Whether an app has completed the handshake. */
  readonly connected: boolean;
  /** Replaces the context and pushes it to the app. */
  setContext(context: Context): void;
  /** Stops answering and removes the listener. */
  destroy(): void;
}

export declare function createAppFrame(options: AppFrameOptions): Promise<AppFrame>;
export declare function ready(): Promise<unknown>;

import type { ReactElement, ReactNode } from "react";
import type { App, Context, Installation, InstallationUpdate, TallyError } from "./index.js";

export interface WrapperProps {
  /** Pins the platform's origin; without it (and parentOrigins) it is learned from the browser. */
  parentOrigin?: string;
  /** Pins several platform origins. */
  parentOrigins?: string[];
  timeoutMs?: number;
  /** Rendered while connecting. */
  fallback?: ReactNode;
  /** Rendered when connecting fails (default: the error's message, in a role="alert" paragraph). */
  errorFallback?: ReactNode | ((error: TallyError) => ReactNode);
  children?: ReactNode;
}

export declare function Wrapper(props: WrapperProps): ReactElement | null;

export interface UseApp {
  context: Context;
  installation: Installation;
  updateInstallation(update: InstallationUpdate): Promise<Installation>;
  exchangeSetupCode<T = Record<string, unknown>>(options?: { endpoint?: string }): Promise<T>;
  /** The setup code captured at connect time, or null. */
  setupCode: string | null;
  /** A session token that is not due for refresh. */
  getSessionToken(): Promise<string>;
  showToast(toast: { message: string; variant?: "info" | "success" | "warning" | "error" }): Promise<unknown>;
  resize(size: { height: number; width?: number }): Promise<unknown>;
  app: App;
}

export declare function useApp(): UseApp;

import type { ReactElement, ReactNode } from "react";
import type { App, Context, Installation, InstallationUpdate, TallyError } from "./index.js";

export interface WrapperProps {
  parentOrigin: string;
  timeoutMs?: number;
  /** Rendered while connecting (and on error, unless errorFallback is given). */
  fallback?: ReactNode;
  /** Rendered when connecting fails. */
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
  showToast(toast: { message: string; variant?: "info" | "success" | "warning" | "error" }): Promise<unknown>;
  resize(size: { height: number; width?: number }): Promise<unknown>;
  app: App;
}

export declare function useApp(): UseApp;

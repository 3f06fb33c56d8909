import type { ReactElement, ReactNode } from "react";
import type { App, Context, DialogElement, FieldElement, Installation, InstallationUpdate, PageElement, SidebarElement, TallyError } from "./index.js";

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

/** The platform's actions, in every element's hook. */
export interface ElementActions {
  openDialog<T = unknown>(url: string, options?: DialogElement["options"]): Promise<T | null>;
  showToast(toast: { message: string; variant?: "info" | "success" | "warning" | "error" }): Promise<unknown>;
  navigate(to: string): Promise<unknown>;
  confirm(question: { message: string; title?: string }): Promise<boolean>;
}

export interface UseFieldExtension extends ElementActions {
  value: unknown;
  /** The SDK's setValue: checked by the platform against the field's type; bursts sent as one. */
  onChange(value: unknown): Promise<unknown>;
  setInvalid(message: string | null): Promise<unknown>;
  field: FieldElement["field"];
  model: string;
  entry: FieldElement["entry"];
  locale?: string;
  stage?: string;
  isReadOnly: boolean;
  meta: { error: string | null };
  extension: { config: Record<string, unknown> };
}

export interface UseFormSidebarExtension extends ElementActions {
  model: string;
  entry: SidebarElement["entry"];
  values: Record<string, unknown>;
  form: { getFieldState(name: string): { value: unknown } };
  extension: { config: Record<string, unknown> };
}

export interface UsePageExtension extends ElementActions {
  route: PageElement["route"];
  extension: { config: Record<string, unknown> };
}

export interface UseUiExtensionDialog {
  onCloseDialog(value?: unknown): Promise<unknown>;
  options: DialogElement["options"];
  extension: { config: Record<string, unknown> };
}

/** A field element (inside <Wrapper>); throws in any other frame. */
export declare function useFieldExtension(): UseFieldExtension;
/** A sidebar element (inside <Wrapper>); throws in any other frame. */
export declare function useFormSidebarExtension(): UseFormSidebarExtension;
/** A page element (inside <Wrapper>); throws in any other frame. */
export declare function usePageExtension(): UsePageExtension;
/** A dialog (inside <Wrapper>); throws in any other frame. */
export declare function useUiExtensionDialog(): UseUiExtensionDialog;

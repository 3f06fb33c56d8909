//! Builds what `tally` embeds, so a fresh `cargo build` needs no hand step:
//!
//! - the verifier module (verifier-core for wasm32 with the `module` feature,
//!   profile `wasm-release`), with the same command and target dir as
//!   `verifier-core/build-module.sh`, so the host and the npm package ship one
//!   artifact;
//! - the studio's platform bridge: `sdk-wasm` with its `parent` feature for
//!   wasm32 (profile `sdk-release`, as `npm run build` does) and its
//!   wasm-bindgen glue, made with `wasm-bindgen-cli-support` (the library of
//!   the wasm-bindgen CLI, pinned to the wasm-bindgen crate's version).
// A build script reports failure by panicking with a message.
#![allow(clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest = PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"),
    );
    let workspace = manifest
        .parent()
        .expect("host/ lives in the workspace")
        .to_path_buf();
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    for path in [
        "verifier-core/src",
        "verifier-core/Cargo.toml",
        "verifier-core/module.rustflags",
        "sdk-wasm/src",
        "sdk-wasm/Cargo.toml",
        "Cargo.lock",
        "Cargo.toml",
    ] {
        println!("cargo:rerun-if-changed={}", workspace.join(path).display());
    }
    println!("cargo:rerun-if-env-changed=CARGO_TARGET_DIR");

    let target_root = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join("target"));

    // Target dirs of their own: the outer build holds the lock on the main one.
    let verifier_dir = target_root.join("verifier-module");
    let flags = std::fs::read_to_string(workspace.join("verifier-core/module.rustflags"))
        .expect("verifier-core/module.rustflags");
    wasm_build(
        &workspace,
        &verifier_dir,
        &[
            "-p",
            "verifier-core",
            "--profile",
            "wasm-release",
            "--features",
            "module",
        ],
        &module_rustflags(&flags),
        "the verifier module",
    );
    let built = verifier_dir.join("wasm32-unknown-unknown/wasm-release/verifier_core.wasm");
    copy(&built, &out_dir.join("tally-verifier.wasm"));

    let bridge_dir = target_root.join("studio-bridge");
    wasm_build(
        &workspace,
        &bridge_dir,
        &[
            "-p",
            "sdk-wasm",
            "--lib",
            "--profile",
            "sdk-release",
            "--no-default-features",
            "--features",
            "parent",
        ],
        "",
        "the studio's platform bridge (sdk-wasm)",
    );
    let bridge = bridge_dir.join("wasm32-unknown-unknown/sdk-release/tally_sdk.wasm");
    let glue_dir = out_dir.join("bridge");
    wasm_bindgen_cli_support::Bindgen::new()
        .input_path(&bridge)
        .web(true)
        .and_then(|b| {
            // As the CLI does: without an argument, the glue loads the
            // module from next to itself.
            b.typescript(false)
                .omit_default_module_path(false)
                .out_name("tally_sdk")
                .generate(&glue_dir)
        })
        .unwrap_or_else(|e| panic!("wasm-bindgen could not process the bridge: {e:#}"));
}

/// `cargo build --locked --target wasm32-unknown-unknown <args>` into `target_dir`.
/// The module's rustflags (`verifier-core/module.rustflags`, one per line)
/// as `CARGO_ENCODED_RUSTFLAGS` wants them; `build-module.sh` reads the same
/// file, so both build the same bytes.
fn module_rustflags(file: &str) -> String {
    file.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect::<Vec<_>>()
        .join("\x1f")
}

/// Builds for wasm32 in `target_dir` with exactly `rustflags` (encoded as
/// `CARGO_ENCODED_RUSTFLAGS`; empty for none).
fn wasm_build(workspace: &Path, target_dir: &Path, args: &[&str], rustflags: &str, what: &str) {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace)
        .args(["build", "--locked", "--target", "wasm32-unknown-unknown"])
        .args(args)
        .env("CARGO_TARGET_DIR", target_dir);
    // Nothing of the outer build's configuration leaks into the module.
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_BUILD_TARGET",
        "CARGO_PRIMARY_PACKAGE",
    ] {
        cmd.env_remove(var);
    }
    if !rustflags.is_empty() {
        cmd.env("CARGO_ENCODED_RUSTFLAGS", rustflags);
    }
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("cannot run cargo to build {what}: {e}"));
    assert!(
        status.success(),
        "building {what} failed; is the target installed? `rustup target add wasm32-unknown-unknown`"
    );
}

fn copy(from: &Path, to: &Path) {
    std::fs::copy(from, to).unwrap_or_else(|e| panic!("cannot copy {}: {e}", from.display()));
}

//! Builds the verifier module (verifier-core for wasm32 with the `module`
//! feature, profile `wasm-release`) so `tally` embeds it: a fresh
//! `cargo build` needs no hand step. Same command and target dir as
//! `verifier-core/build-module.sh`, so the host and the npm package ship one
//! artifact.
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
        "Cargo.lock",
        "Cargo.toml",
    ] {
        println!("cargo:rerun-if-changed={}", workspace.join(path).display());
    }
    println!("cargo:rerun-if-env-changed=CARGO_TARGET_DIR");

    // A target dir of its own: the outer build holds the lock on the main one.
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join("target"))
        .join("verifier-module");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&workspace)
        .args([
            "build",
            "--locked",
            "-p",
            "verifier-core",
            "--target",
            "wasm32-unknown-unknown",
        ])
        .args(["--profile", "wasm-release", "--features", "module"])
        .env("CARGO_TARGET_DIR", &target_dir);
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
    let status = cmd
        .status()
        .expect("cannot run cargo to build the verifier module");
    assert!(
        status.success(),
        "building the verifier module failed; is the target installed? `rustup target add wasm32-unknown-unknown`"
    );
    let built = target_dir.join("wasm32-unknown-unknown/wasm-release/verifier_core.wasm");
    copy(&built, &out_dir.join("tally-verifier.wasm"));
}

fn copy(from: &Path, to: &Path) {
    std::fs::copy(from, to).unwrap_or_else(|e| panic!("cannot copy {}: {e}", from.display()));
}

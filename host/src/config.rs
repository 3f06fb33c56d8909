//! `tally serve --config tally.toml`: the serve options in a file, below the
//! environment and the command line (command line > `TALLY_*` environment >
//! file > defaults).
//!
//! The file is TOML with one key per option, named as the option without
//! its dashes or with underscores (`listen`, `throttle-failures` or
//! `throttle_failures`): strings, integers, booleans (flags), and arrays
//! for repeatable options (`trusted-proxy = ["10.0.0.0/8"]`). A key that
//! names no option is an error, as is a value of the wrong kind. The file
//! becomes command-line arguments for the options that neither the command
//! line nor the environment gives, so every option is checked by the same
//! parser whatever its source.

use std::ffi::OsString;
use std::path::Path;

use anyhow::{Context as _, bail};
use clap::{Arg, ArgAction};

/// The arguments with the file's options added where the command line and
/// the environment say nothing. `serve` is the subcommand's definition.
pub fn merge(args: Vec<OsString>, serve: &clap::Command) -> anyhow::Result<Vec<OsString>> {
    let Some(path) = config_path(&args) else {
        return Ok(args);
    };
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read the config file {}", path.display()))?;
    let table: toml::Table = text
        .parse()
        .with_context(|| format!("{} is not TOML", path.display()))?;
    let given: Vec<String> = args
        .iter()
        .filter_map(|a| a.to_str())
        .filter_map(|a| a.strip_prefix("--"))
        .map(|a| a.split('=').next().unwrap_or_default().to_string())
        .collect();
    let mut out = args;
    for (key, value) in &table {
        let name = key.replace('_', "-");
        let arg = serve
            .get_arguments()
            .find(|a| a.get_long() == Some(name.as_str()) && name != "config")
            .with_context(|| {
                format!("{}: {key} is not an option of tally serve", path.display())
            })?;
        let from_env = arg
            .get_env()
            .is_some_and(|env| std::env::var_os(env).is_some());
        if given.contains(&name) || from_env {
            continue;
        }
        append(&mut out, arg, &name, value)
            .with_context(|| format!("{}: {key}", path.display()))?;
    }
    Ok(out)
}

fn append(
    out: &mut Vec<OsString>,
    arg: &Arg,
    name: &str,
    value: &toml::Value,
) -> anyhow::Result<()> {
    let flag = matches!(arg.get_action(), ArgAction::SetTrue);
    match value {
        toml::Value::Boolean(on) if flag => {
            if *on {
                out.push(format!("--{name}").into());
            }
        }
        toml::Value::Array(items) if matches!(arg.get_action(), ArgAction::Append) => {
            for item in items {
                out.push(format!("--{name}").into());
                out.push(scalar(item)?.into());
            }
        }
        other if !flag => {
            out.push(format!("--{name}").into());
            out.push(scalar(other)?.into());
        }
        _ => bail!(
            "expected {}",
            if flag { "true or false" } else { "a value" }
        ),
    }
    Ok(())
}

fn scalar(value: &toml::Value) -> anyhow::Result<String> {
    Ok(match value {
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(n) => n.to_string(),
        toml::Value::Float(f) => f.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        _ => bail!("expected a string, a number or a boolean"),
    })
}

/// `--config PATH`, `--config=PATH` or `TALLY_CONFIG`.
fn config_path(args: &[OsString]) -> Option<std::path::PathBuf> {
    let mut iter = args.iter();
    while let Some(a) = iter.next() {
        let a = a.to_str()?;
        if a == "--config" {
            return iter.next().map(|p| Path::new(p).to_path_buf());
        }
        if let Some(p) = a.strip_prefix("--config=") {
            return Some(Path::new(p).to_path_buf());
        }
    }
    std::env::var_os("TALLY_CONFIG").map(std::path::PathBuf::from)
}

//! Randomness for secrets, ids and hash seeds, from the operating system
//! (`getrandom`).

/// A failure of the operating system's random source.
#[derive(Debug, thiserror::Error)]
#[error("the operating system's random source failed: {0}")]
pub struct RandomError(String);

/// 32 random bytes: the raw material of every secret.
pub fn secret_bytes() -> Result<[u8; 32], RandomError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| RandomError(e.to_string()))?;
    Ok(bytes)
}

/// A random id: `prefix` and 16 lowercase hex characters (64 bits).
pub fn id(prefix: &str) -> Result<String, RandomError> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).map_err(|e| RandomError(e.to_string()))?;
    Ok(format!("{prefix}{}", hex::encode(bytes)))
}

/// 64 random bits: a seed (the hot-path maps' hashers, `storage::hot_map`).
pub fn seed() -> Result<u64, RandomError> {
    getrandom::u64().map_err(|e| RandomError(e.to_string()))
}

//! The `--config` TOML file: defaults for `analyze` options. Flags win over the file, the file over built-in
//! defaults.
//!
//! ```toml
//! [burst]
//! window = "60s"
//! threshold = 5
//! spray_users = 3
//! distributed_hosts = 3
//!
//! [unusual_host]
//! baseline = "baseline.json"   # or: learn = "1h"
//!
//! [analyze]
//! fail_on = "high"
//! threads = 0
//! ```

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use serde::Deserialize;

use crate::cli::FailOn;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub burst: BurstConfig,
    #[serde(default)]
    pub unusual_host: HostConfig,
    #[serde(default)]
    pub analyze: AnalyzeConfig,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BurstConfig {
    pub window: Option<String>,
    pub threshold: Option<usize>,
    pub spray_users: Option<usize>,
    pub distributed_hosts: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostConfig {
    pub baseline: Option<PathBuf>,
    pub learn: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnalyzeConfig {
    pub fail_on: Option<FailOn>,
    pub threads: Option<usize>,
}

pub fn load(path: &Path) -> Result<Config> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading config {}", path.display()))?;
    let mut c: Config = toml::from_str(&text).with_context(|| format!("config {}", path.display()))?;
    // A relative baseline path is relative to the config file.
    if let (Some(b), Some(dir)) = (&c.unusual_host.baseline, path.parent()) {
        if b.is_relative() {
            c.unusual_host.baseline = Some(dir.join(b));
        }
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects_unknown_keys() {
        let c: Config =
            toml::from_str("[burst]\nwindow = \"2m\"\nthreshold = 8\n[analyze]\nfail_on = \"critical\"\n").unwrap();
        assert_eq!(c.burst.threshold, Some(8));
        assert_eq!(c.analyze.fail_on, Some(FailOn::Critical));
        assert!(toml::from_str::<Config>("[burst]\nthreshhold = 8\n").is_err());
    }
}

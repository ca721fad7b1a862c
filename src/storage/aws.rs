//! S3 settings from the standard AWS places, never from the pipeline file.
//!
//! Order, as the AWS CLI and SDKs do it: `AWS_*` environment variables first (every variable
//! object_store knows: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`,
//! `AWS_REGION`/`AWS_DEFAULT_REGION`, `AWS_ENDPOINT_URL`/`AWS_ENDPOINT`, `AWS_ALLOW_HTTP`, ...),
//! then the shared profile files: `~/.aws/credentials` (or `AWS_SHARED_CREDENTIALS_FILE`) and
//! `~/.aws/config` (or `AWS_CONFIG_FILE`), profile `AWS_PROFILE` (default `default`), which give
//! static keys (`aws_access_key_id`, `aws_secret_access_key`, `aws_session_token`), `region` and
//! `endpoint_url`. Without keys from either, object_store's own chain applies (web identity
//! token, ECS/EKS container credentials, EC2 instance metadata).
//!
//! Secrets are handed to the builder and nowhere else: no error here or elsewhere in Beacon
//! contains a key, and the builder (whose `Debug` would show the secret) is never formatted.

use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::ClientConfigKey;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Problems with the AWS profile files. Messages name files, lines and keys, never values.
#[derive(Debug, thiserror::Error)]
pub enum AwsConfigError {
    #[error("AWS profile `{profile}` (from AWS_PROFILE) is not in {}: add a [{profile}] section or unset AWS_PROFILE", files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(" or "))]
    ProfileNotFound {
        profile: String,
        files: Vec<PathBuf>,
    },
    #[error("AWS profile `{profile}` in {} has no static keys (it uses `{key}`, which Beacon does not run): export the credentials as AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN, e.g. with `aws configure export-credentials --profile {profile} --format env`", file.display())]
    Unsupported {
        profile: String,
        file: PathBuf,
        key: String,
    },
    #[error("AWS profile `{profile}` in {} sets `aws_access_key_id` without `aws_secret_access_key` (or the reverse)", file.display())]
    HalfKey { profile: String, file: PathBuf },
    #[error("cannot read AWS profile file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}:{line}: not an INI line (expected `[section]` or `key = value`)", path.display())]
    Syntax { path: PathBuf, line: usize },
}

/// The settings of one profile that Beacon uses.
#[derive(Default, PartialEq)]
struct Profile {
    access_key_id: Option<String>,
    secret_access_key: Option<String>,
    session_token: Option<String>,
    region: Option<String>,
    endpoint_url: Option<String>,
    /// A credential source Beacon does not implement (`role_arn`, `sso_session`, ...).
    unsupported: Option<(String, PathBuf)>,
    found_in: Vec<PathBuf>,
}

/// An S3 builder for `bucket` configured from `env` (the process environment in production) and
/// the profile files under `home`.
pub(crate) fn s3_builder(
    bucket: &str,
    env: &BTreeMap<String, String>,
    home: Option<&Path>,
) -> Result<AmazonS3Builder, AwsConfigError> {
    let mut builder = AmazonS3Builder::new();
    for (key, value) in env {
        if key.starts_with("AWS_") {
            if let Ok(config_key) = key.to_ascii_lowercase().parse::<AmazonS3ConfigKey>() {
                builder = builder.with_config(config_key, value);
            }
        }
    }
    let set = |k: &str| env.get(k).is_some_and(|v| !v.is_empty());
    let profile = load_profile(env, home)?;
    let has_env_keys = set("AWS_ACCESS_KEY_ID");
    if !has_env_keys {
        if let (Some(key), Some(secret)) = (&profile.access_key_id, &profile.secret_access_key) {
            builder = builder
                .with_access_key_id(key)
                .with_secret_access_key(secret);
            if let Some(token) = &profile.session_token {
                builder = builder.with_token(token);
            }
        } else if profile.access_key_id.is_some() || profile.secret_access_key.is_some() {
            return Err(AwsConfigError::HalfKey {
                profile: profile_name(env),
                file: profile.found_in.first().cloned().unwrap_or_default(),
            });
        } else if let Some((key, file)) = profile.unsupported.clone() {
            return Err(AwsConfigError::Unsupported {
                profile: profile_name(env),
                file,
                key,
            });
        }
    }
    if !set("AWS_REGION") && !set("AWS_DEFAULT_REGION") {
        if let Some(region) = &profile.region {
            builder = builder.with_region(region);
        }
    }
    let env_endpoint = ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "AWS_ENDPOINT"]
        .iter()
        .find_map(|k| env.get(*k).filter(|v| !v.is_empty()).cloned());
    let endpoint = match env_endpoint {
        Some(e) => Some(e),
        None => {
            if let Some(e) = &profile.endpoint_url {
                builder = builder.with_endpoint(e);
            }
            profile.endpoint_url.clone()
        }
    };
    // An endpoint written `http://` (a local S3-compatible server) needs plain HTTP allowed;
    // object_store would otherwise refuse every request.
    if !set("AWS_ALLOW_HTTP")
        && endpoint
            .as_deref()
            .is_some_and(|e| e.starts_with("http://"))
    {
        builder = builder.with_config(
            AmazonS3ConfigKey::Client(ClientConfigKey::AllowHttp),
            "true",
        );
    }
    Ok(builder.with_bucket_name(bucket))
}

fn profile_name(env: &BTreeMap<String, String>) -> String {
    env.get("AWS_PROFILE")
        .or_else(|| env.get("AWS_DEFAULT_PROFILE"))
        .filter(|p| !p.is_empty())
        .cloned()
        .unwrap_or_else(|| "default".to_string())
}

fn load_profile(
    env: &BTreeMap<String, String>,
    home: Option<&Path>,
) -> Result<Profile, AwsConfigError> {
    let name = profile_name(env);
    let explicit = env
        .get("AWS_PROFILE")
        .or_else(|| env.get("AWS_DEFAULT_PROFILE"))
        .is_some_and(|p| !p.is_empty());
    let file = |var: &str, default: &str| -> Option<PathBuf> {
        match env.get(var).filter(|v| !v.is_empty()) {
            Some(p) => Some(PathBuf::from(p)),
            None => home.map(|h| h.join(".aws").join(default)),
        }
    };
    let credentials = file("AWS_SHARED_CREDENTIALS_FILE", "credentials");
    let config = file("AWS_CONFIG_FILE", "config");
    let mut profile = Profile::default();
    let mut searched = Vec::new();
    // The credentials file names sections `[name]`; the config file `[profile name]` (and
    // `[default]`). Keys in the credentials file win, as in the AWS CLI.
    for (path, is_config) in [(credentials, false), (config, true)] {
        let Some(path) = path else { continue };
        searched.push(path.clone());
        let sections = match std::fs::read_to_string(&path) {
            Ok(text) => parse_ini(&text, &path)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => return Err(AwsConfigError::Read { path, source }),
        };
        let wanted: Vec<String> = if is_config {
            if name == "default" {
                vec!["default".into(), "profile default".into()]
            } else {
                vec![format!("profile {name}")]
            }
        } else {
            vec![name.clone()]
        };
        let Some(section) = wanted.iter().find_map(|w| sections.get(w)) else {
            continue;
        };
        profile.found_in.push(path.clone());
        let take = |slot: &mut Option<String>, key: &str| {
            if slot.is_none() {
                if let Some(v) = section.get(key).filter(|v| !v.is_empty()) {
                    *slot = Some(v.clone());
                }
            }
        };
        take(&mut profile.access_key_id, "aws_access_key_id");
        take(&mut profile.secret_access_key, "aws_secret_access_key");
        take(&mut profile.session_token, "aws_session_token");
        take(&mut profile.region, "region");
        take(&mut profile.endpoint_url, "endpoint_url");
        if profile.unsupported.is_none() {
            for key in [
                "role_arn",
                "source_profile",
                "credential_process",
                "sso_session",
                "sso_start_url",
                "web_identity_token_file",
            ] {
                if section.contains_key(key) {
                    profile.unsupported = Some((key.to_string(), path.clone()));
                    break;
                }
            }
        }
    }
    if explicit && profile.found_in.is_empty() {
        return Err(AwsConfigError::ProfileNotFound {
            profile: name,
            files: searched,
        });
    }
    Ok(profile)
}

/// `[section]` -> `key = value`, with `#`/`;` comments. Indented lines (the nested settings of
/// the config file, such as `s3 =` blocks) are skipped: Beacon reads only top-level keys.
fn parse_ini(
    text: &str,
    path: &Path,
) -> Result<BTreeMap<String, BTreeMap<String, String>>, AwsConfigError> {
    let mut sections: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut current: Option<String> = None;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with(['#', ';']) {
            continue;
        }
        if line.starts_with([' ', '\t']) {
            continue;
        }
        if let Some(name) = trimmed.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
            let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
            sections.entry(name.clone()).or_default();
            current = Some(name);
            continue;
        }
        let Some((key, value)) = trimmed.split_once('=') else {
            return Err(AwsConfigError::Syntax {
                path: path.to_path_buf(),
                line: i + 1,
            });
        };
        if let Some(section) = &current {
            sections
                .entry(section.clone())
                .or_default()
                .insert(key.trim().to_ascii_lowercase(), value.trim().to_string());
        }
    }
    Ok(sections)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn home_with(credentials: &str, config: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
        let aws = dir.path().join(".aws");
        std::fs::create_dir_all(&aws).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(aws.join("credentials"), credentials).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(aws.join("config"), config).unwrap_or_else(|e| panic!("{e}"));
        dir
    }

    fn config(b: &AmazonS3Builder, key: AmazonS3ConfigKey) -> Option<String> {
        b.get_config_value(&key)
    }

    #[test]
    fn profile_files_give_keys_region_and_endpoint() {
        let home = home_with(
            "[default]\naws_access_key_id = DEF\naws_secret_access_key = defsecret\n\n[ci]\naws_access_key_id=CIKEY\naws_secret_access_key = cisecret\naws_session_token = tok\n",
            "[default]\nregion = eu-west-1\n\n[profile ci]\nregion = us-west-2\nendpoint_url = http://127.0.0.1:9000\ns3 =\n  addressing_style = path\n",
        );
        let b = s3_builder("bkt", &env(&[("AWS_PROFILE", "ci")]), Some(home.path()))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            config(&b, AmazonS3ConfigKey::AccessKeyId).as_deref(),
            Some("CIKEY")
        );
        assert_eq!(
            config(&b, AmazonS3ConfigKey::SecretAccessKey).as_deref(),
            Some("cisecret")
        );
        assert_eq!(config(&b, AmazonS3ConfigKey::Token).as_deref(), Some("tok"));
        assert_eq!(
            config(&b, AmazonS3ConfigKey::Region).as_deref(),
            Some("us-west-2")
        );
        assert_eq!(
            config(&b, AmazonS3ConfigKey::Endpoint).as_deref(),
            Some("http://127.0.0.1:9000")
        );
        assert_eq!(
            config(&b, AmazonS3ConfigKey::Client(ClientConfigKey::AllowHttp)).as_deref(),
            Some("true"),
            "an http:// endpoint allows plain HTTP"
        );
        let d = s3_builder("bkt", &env(&[]), Some(home.path())).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            config(&d, AmazonS3ConfigKey::AccessKeyId).as_deref(),
            Some("DEF")
        );
        assert_eq!(
            config(&d, AmazonS3ConfigKey::Region).as_deref(),
            Some("eu-west-1")
        );
    }

    #[test]
    fn environment_wins_over_profile_files() {
        let home = home_with(
            "[default]\naws_access_key_id = FILE\naws_secret_access_key = filesecret\n",
            "[default]\nregion = eu-west-1\n",
        );
        let e = env(&[
            ("AWS_ACCESS_KEY_ID", "ENVKEY"),
            ("AWS_SECRET_ACCESS_KEY", "envsecret"),
            ("AWS_REGION", "ap-south-1"),
        ]);
        let b = s3_builder("bkt", &e, Some(home.path())).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            config(&b, AmazonS3ConfigKey::AccessKeyId).as_deref(),
            Some("ENVKEY")
        );
        assert_eq!(
            config(&b, AmazonS3ConfigKey::SecretAccessKey).as_deref(),
            Some("envsecret")
        );
        assert_eq!(
            config(&b, AmazonS3ConfigKey::Region).as_deref(),
            Some("ap-south-1")
        );
    }

    #[test]
    fn profile_errors_name_the_profile_and_file_but_no_secret() {
        let home = home_with(
            "[half]\naws_access_key_id = K\n",
            "[profile sso]\nsso_session = corp\nregion = eu-west-1\n",
        );
        let err = |profile: &str| {
            s3_builder("b", &env(&[("AWS_PROFILE", profile)]), Some(home.path()))
                .map(|_| ())
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        assert!(err("missing").contains("AWS profile `missing` (from AWS_PROFILE) is not in"));
        assert!(err("sso").contains("uses `sso_session`"), "{}", err("sso"));
        assert!(err("half").contains("without `aws_secret_access_key`"));
        let bad = home_with("", "[profile bad]\nregion = x\nthis line is wrong\n");
        let e = s3_builder("b", &env(&[("AWS_PROFILE", "bad")]), Some(bad.path()))
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert!(e.contains("config:3: not an INI line"), "{e}");
        // No profile chosen and no files: object_store's own chain applies.
        let none = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        assert!(s3_builder("b", &env(&[]), Some(none.path())).is_ok());
    }
}

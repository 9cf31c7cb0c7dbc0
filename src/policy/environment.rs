//! The environment a shell command gets: LocalGPT's own, minus anything that looks like a
//! credential — by name (`*_API_KEY`, `*TOKEN*`, `*SECRET*`, `*PASSWORD*`, `*_KEY`, `*_PAT`,
//! `*CREDENTIAL*`, `AWS_*`, `AZURE_*`, …) or by value (a URL with a password in it, as
//! `DATABASE_URL` often is). `tools.env_allow` names variables that pass anyway; by
//! default the harmless AWS settings that match the pattern.

pub(crate) use crate::config::secret::{has_url_password, is_secret_var};

/// The variables of this process a command must not see, given `allowed` names.
pub(crate) fn withheld<'a>(
    vars: impl Iterator<Item = (&'a str, &'a str)>,
    allowed: &[String],
) -> Vec<String> {
    vars.filter(|(name, value)| {
        !allowed.iter().any(|allowed| allowed == name)
            && (is_secret_var(name) || has_url_password(value))
    })
    .map(|(name, _)| name.to_string())
    .collect()
}

/// Removes from `command`'s environment what [`withheld`] says it must not see.
pub(crate) fn scrub(command: &mut tokio::process::Command, allowed: &[String]) {
    let vars: Vec<(String, String)> = std::env::vars_os()
        .map(|(name, value)| {
            (
                name.to_string_lossy().into_owned(),
                value.to_string_lossy().into_owned(),
            )
        })
        .collect();
    let pairs = vars.iter().map(|(n, v)| (n.as_str(), v.as_str()));
    for name in withheld(pairs, allowed) {
        command.env_remove(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_recognised_by_name_and_by_value() {
        for name in [
            "OPENAI_API_KEY",
            "GITHUB_TOKEN",
            "aws_secret_access_key",
            "AWS_SESSION_TOKEN",
            "DB_PASSWORD",
            "STRIPE_KEY",
            "GITLAB_PAT",
            "GOOGLE_APPLICATION_CREDENTIALS",
            "AZURE_CLIENT_SECRET",
            "NPM_CONFIG__AUTH",
            "SIGNING_PASSPHRASE",
        ] {
            assert!(is_secret_var(name), "{name}");
        }
        for name in [
            "PATH",
            "HOME",
            "LANG",
            "TERM",
            "KEYTIMEOUT",
            "SSH_AUTH_SOCK",
            "XAUTHORITY",
        ] {
            assert!(!is_secret_var(name), "{name}");
        }
        let vars = [
            ("PATH", "/usr/bin"),
            ("DATABASE_URL", "postgres://me:hunter2@db/app"),
            ("PLAIN_URL", "https://example.com/x"),
            ("AWS_REGION", "eu-west-1"),
            ("AWS_SECRET_ACCESS_KEY", "abc"),
        ];
        let allowed = crate::config::ToolsConfig::default().env_allow;
        assert_eq!(
            withheld(vars.into_iter(), &allowed),
            ["DATABASE_URL", "AWS_SECRET_ACCESS_KEY"]
        );
    }
}

//! The command layer of upgrades (docs/upgrades.md): `meshpack migrate`
//! (the work is `meshpack::policy::version`) and `meshpack upgrade-check`
//! (`meshpack::upgrade`).
//!
//! Invariant: parses, calls, prints; exit 1 for a problem found (values
//! that no longer install, a policy that does not load after migrating),
//! 2 when the command could not run.

use clap::Args;
use meshpack::{diff, policy, upgrade};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Args)]
pub struct MigrateArgs {
    /// The policy file; rewritten in place.
    file: PathBuf,
    /// Print the migrated policy instead of rewriting the file.
    #[arg(long)]
    stdout: bool,
}

#[derive(Args)]
pub struct UpgradeCheckArgs {
    /// The installed version: a chart folder, a chart archive or a bundle.
    old: PathBuf,
    /// The version to upgrade to: a chart folder, a chart archive or a bundle.
    new: PathBuf,
    /// The customer's values file (repeatable, as `helm -f`).
    #[arg(short = 'f', long = "values")]
    values: Vec<PathBuf>,
    /// `--set` for both renders (repeatable).
    #[arg(long)]
    set: Vec<String>,
    /// Release name of both renders.
    #[arg(long, default_value = "release")]
    release: String,
    /// Namespace of both renders.
    #[arg(short = 'n', long, default_value = "default")]
    namespace: String,
    /// Trust domain of the principals.
    #[arg(long, default_value = "cluster.local")]
    trust_domain: String,
    /// The helm binary.
    #[arg(long, default_value = "helm")]
    helm: PathBuf,
    /// text or markdown (a PR comment), as `meshpack diff`.
    #[arg(short, long, default_value = "text", value_parser = ["text", "markdown"])]
    output: String,
}

pub fn migrate(a: MigrateArgs) -> ExitCode {
    let shown = a.file.display().to_string();
    let text = match meshpack::fsread::read_text(&a.file, policy::load::MAX_BYTES) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: cannot read {shown}: {e}");
            return ExitCode::from(2);
        }
    };
    let m = match policy::version::migrate(&text) {
        Ok(m) => m,
        Err(d) => {
            eprint!("{}", d.render(&shown, &text));
            return ExitCode::from(1);
        }
    };
    // What is written must load: a migration never leaves a broken file.
    if let Err(diags) = meshpack::compile_model(&m.text, None) {
        for d in &diags {
            eprint!("{}", d.render(&shown, &m.text));
        }
        eprintln!(
            "error: {shown} does not compile as {}; fix it and migrate again",
            m.to
        );
        return ExitCode::from(1);
    }
    if a.stdout {
        print!("{}", m.text);
        return ExitCode::SUCCESS;
    }
    if m.text == text {
        eprintln!("{shown} is already {}", m.to);
        return ExitCode::SUCCESS;
    }
    if let Err(e) = write_beside(&a.file, m.text.as_bytes()) {
        eprintln!("error: cannot write {shown}: {e}");
        return ExitCode::from(2);
    }
    eprintln!("migrated {shown} from {} to {}", m.from, m.to);
    ExitCode::SUCCESS
}

/// Replace a file in one rename: no half-written policy.
fn write_beside(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut f = tempfile::NamedTempFile::new_in(dir)?;
    f.write_all(bytes)?;
    if let Ok(meta) = std::fs::metadata(path) {
        f.as_file().set_permissions(meta.permissions())?;
    }
    f.persist(path).map_err(|e| e.error)?;
    Ok(())
}

pub fn upgrade_check(a: UpgradeCheckArgs) -> ExitCode {
    let o = upgrade::Options {
        helm: a.helm,
        values: a.values,
        set: a.set,
        release: a.release,
        namespace: a.namespace,
        trust_domain: a.trust_domain,
    };
    let r = match upgrade::check(&a.old, &a.new, &o) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let installs = r.installs();
    for p in &r.values_problems {
        print!("{p}");
    }
    if let Some(e) = &r.old_error {
        println!("the old chart does not render with these values (nothing to compare):\n{e}");
    }
    if let Some(e) = &r.new_error {
        println!("the new chart does not render with these values:\n{e}");
    }
    if r.old_error.is_none() && r.new_error.is_none() {
        let d = [r.reachability];
        if diff::is_empty(&d) {
            println!("reachability: no change");
        } else if a.output == "markdown" {
            print!("{}", diff::markdown(&d));
        } else {
            print!("{}", diff::text(&d));
        }
    }
    let (old, new) = (a.old.display(), a.new.display());
    if installs {
        println!("the values install on {new} (upgrade from {old})");
        ExitCode::SUCCESS
    } else {
        println!(
            "FAILED: the values do not install on {new}: {} problem(s)",
            r.values_problems.len() + usize::from(r.new_error.is_some())
        );
        ExitCode::from(1)
    }
}

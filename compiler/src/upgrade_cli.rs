//! The command line of upgrades (docs/upgrades.md): `meshpack migrate`
//! (`actions::migrate`) and `meshpack upgrade-check` (`actions::upgrade`).
//!
//! Invariant: parses and prints only; exit 1 for a problem found (values
//! that no longer install, a policy that does not load after migrating),
//! 2 when the command could not run.

use crate::fail;
use clap::Args;
use meshpack::actions::{migrate, upgrade, views::DiffFormat};
use std::path::PathBuf;
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
    /// How the reachability change is written, as `meshpack diff`.
    #[arg(short, long, value_enum, default_value_t = DiffFormat::Text)]
    output: DiffFormat,
}

pub fn migrate(a: MigrateArgs) -> ExitCode {
    let shown = a.file.display();
    match migrate::run(&a.file, !a.stdout) {
        Err(e) => fail(e),
        Ok(Err(migrate::Refused::Version(f))) => {
            eprint!("{}", f.render());
            ExitCode::from(1)
        }
        Ok(Err(migrate::Refused::DoesNotCompile { to, failure })) => {
            eprint!("{}", failure.render());
            eprintln!("error: {shown} does not compile as {to}; fix it and migrate again");
            ExitCode::from(1)
        }
        Ok(Ok(
            migrate::Outcome::Current { text, .. } | migrate::Outcome::Migrated { text, .. },
        )) if a.stdout => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Ok(Ok(migrate::Outcome::Current { to, .. })) => {
            eprintln!("{shown} is already {to}");
            ExitCode::SUCCESS
        }
        Ok(Ok(migrate::Outcome::Migrated { from, to, .. })) => {
            eprintln!("migrated {shown} from {from} to {to}");
            ExitCode::SUCCESS
        }
    }
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
        Err(e) => return fail(e),
    };
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
        print!("{}", upgrade::reachability_text(&r, a.output));
    }
    let (old, new) = (a.old.display(), a.new.display());
    if r.installs() {
        println!("the values install on {new} (upgrade from {old})");
        ExitCode::SUCCESS
    } else {
        println!(
            "FAILED: the values do not install on {new}: {} problem(s)",
            r.problems()
        );
        ExitCode::from(1)
    }
}

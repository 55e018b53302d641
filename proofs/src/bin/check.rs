//! `durakv-check`: runs the model checker over the engine.
//!
//! ```text
//! durakv-check list                          configurations and mutants
//! durakv-check all                           every configuration; exit 0 iff every always
//!                                            property holds and every sometimes is discovered
//! durakv-check mutants                       every known-bad design; exit 0 iff each is caught
//! durakv-check check NAME                    one configuration or mutant
//! durakv-check explore NAME [--addr A]       the stateright Explorer (default 127.0.0.1:3000)
//! durakv-check invariants [--write]          check (or regenerate) proofs/INVARIANTS.md
//! ```

use std::process::ExitCode;

use durakv_proofs::catalog::{checks, mutants};
use durakv_proofs::repl_properties as repl;
use durakv_proofs::runner::{
    print_caught, print_report, run_check, run_mutant, run_repl_check, run_repl_mutant,
};
use stateright::Model;

fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn all() -> bool {
    let mut ok = true;
    let mut out = std::io::stdout();
    for check in checks() {
        eprintln!("checking {} ({})", check.name, check.about);
        let report = run_check(&check, threads(), true);
        print_report(&mut out, &report).expect("stdout");
        ok &= report.ok();
    }
    for check in repl::checks() {
        eprintln!("checking {} ({})", check.name, check.about);
        let report = run_repl_check(&check, threads(), true);
        print_report(&mut out, &report).expect("stdout");
        ok &= report.ok();
    }
    println!(
        "{}",
        if ok {
            "all configurations: OK"
        } else {
            "all configurations: FAILED"
        }
    );
    ok
}

fn all_mutants() -> bool {
    let mut ok = true;
    for mutant in mutants() {
        eprintln!("mutant {}", mutant.name);
        let caught = run_mutant(&mutant, true);
        print_caught(&mut std::io::stdout(), &caught, mutant.about).expect("stdout");
        ok &= caught.counterexample.is_some();
    }
    for mutant in repl::mutants() {
        eprintln!("mutant {}", mutant.name);
        let caught = run_repl_mutant(&mutant, true);
        print_caught(&mut std::io::stdout(), &caught, mutant.about).expect("stdout");
        ok &= caught.counterexample.is_some();
    }
    println!(
        "{}",
        if ok {
            "all mutants: CAUGHT"
        } else {
            "some mutant was NOT caught"
        }
    );
    ok
}

fn one(name: &str) -> Option<bool> {
    if let Some(check) = checks().into_iter().find(|c| c.name == name) {
        let report = run_check(&check, threads(), true);
        print_report(&mut std::io::stdout(), &report).expect("stdout");
        return Some(report.ok());
    }
    if let Some(check) = repl::checks().into_iter().find(|c| c.name == name) {
        let report = run_repl_check(&check, threads(), true);
        print_report(&mut std::io::stdout(), &report).expect("stdout");
        return Some(report.ok());
    }
    if let Some(mutant) = repl::mutants().into_iter().find(|m| m.name == name) {
        let caught = run_repl_mutant(&mutant, true);
        print_caught(&mut std::io::stdout(), &caught, mutant.about).expect("stdout");
        return Some(caught.counterexample.is_some());
    }
    let mutant = mutants().into_iter().find(|m| m.name == name)?;
    let caught = run_mutant(&mutant, true);
    print_caught(&mut std::io::stdout(), &caught, mutant.about).expect("stdout");
    Some(caught.counterexample.is_some())
}

fn explore(name: &str, addr: &str) -> Option<bool> {
    let repl_model = (repl::checks()
        .into_iter()
        .find(|c| c.name == name)
        .map(|c| c.model))
    .or_else(|| {
        (repl::mutants().into_iter())
            .find(|m| m.name == name)
            .map(|m| m.model)
    });
    if let Some(model) = repl_model {
        println!("Explorer for {name} on http://{addr}/ (Ctrl-C to stop)");
        model.checker().serve(addr);
        return Some(true);
    }
    let model = checks()
        .into_iter()
        .find(|c| c.name == name)
        .map(|c| c.model)
        .or_else(|| {
            mutants()
                .into_iter()
                .find(|m| m.name == name)
                .map(|m| m.model)
        })?;
    println!("Explorer for {name} on http://{addr}/ (Ctrl-C to stop)");
    model.checker().serve(addr);
    Some(true)
}

/// Checks (or with `--write` regenerates) the counterexamples quoted in proofs/INVARIANTS.md.
fn invariants(write: bool) -> bool {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/INVARIANTS.md");
    let doc = std::fs::read_to_string(path).expect("read INVARIANTS.md");
    match durakv_proofs::doc::refresh(&doc) {
        Ok(fresh) if fresh == doc => {
            println!("INVARIANTS.md is up to date");
            true
        }
        Ok(fresh) if write => {
            std::fs::write(path, fresh).expect("write INVARIANTS.md");
            println!("INVARIANTS.md regenerated");
            true
        }
        Ok(_) => {
            println!("INVARIANTS.md is out of date: run `durakv-check invariants --write`");
            false
        }
        Err(e) => {
            println!("INVARIANTS.md: {e}");
            false
        }
    }
}

fn list() {
    println!("configurations (durakv-check all):");
    for c in checks() {
        println!("  {:24} {}", c.name, c.about);
    }
    for c in repl::checks() {
        println!("  {:24} {}", c.name, c.about);
    }
    println!("mutants (durakv-check mutants):");
    for m in mutants() {
        println!("  {:28} breaks \"{}\": {}", m.name, m.breaks, m.about);
    }
    for m in repl::mutants() {
        println!("  {:28} breaks \"{}\": {}", m.name, m.breaks, m.about);
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match args.as_slice() {
        ["list"] => {
            list();
            Some(true)
        }
        ["all"] => Some(all()),
        ["mutants"] => Some(all_mutants()),
        ["check", name] => one(name),
        ["invariants"] | ["invariants", "--write"] => Some(invariants(args.len() == 2)),
        ["explore", name] => explore(name, "127.0.0.1:3000"),
        ["explore", name, "--addr", addr] => explore(name, addr),
        _ => {
            eprintln!("usage: durakv-check list | all | mutants | check NAME | explore NAME [--addr HOST:PORT] | invariants [--write]");
            return ExitCode::from(2);
        }
    };
    match result {
        Some(true) => ExitCode::SUCCESS,
        Some(false) => ExitCode::FAILURE,
        None => {
            eprintln!("unknown configuration or mutant; see `durakv-check list`");
            ExitCode::from(2)
        }
    }
}

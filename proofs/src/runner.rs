//! Running checks and mutants, with progress, and reporting verdicts.

use std::collections::BTreeSet;
use std::io::Write;
use std::time::{Duration, Instant};

use stateright::{Checker, Expectation, HasDiscoveries, Model};

use crate::aof_model::AofModel;
use crate::catalog::{Check, Mutant};
use crate::trace;

/// A property's result in one run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Holds,
    Violated(String),
    Discovered,
    NotDiscovered,
}

impl Verdict {
    pub fn ok(&self) -> bool {
        matches!(self, Verdict::Holds | Verdict::Discovered)
    }
}

pub struct Report {
    pub name: &'static str,
    pub unique_states: usize,
    pub states: usize,
    pub max_depth: usize,
    pub seconds: f64,
    pub verdicts: Vec<(&'static str, Expectation, Verdict)>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.verdicts.iter().all(|(_, _, v)| v.ok())
    }
}

fn wait<C: Checker<AofModel>>(checker: C, name: &str, progress: bool, started: Instant) -> C {
    while !checker.is_done() {
        std::thread::sleep(Duration::from_millis(200));
        if progress && started.elapsed().as_millis() % 2000 < 200 {
            eprintln!(
                "  [{name}] {:.0} s: {} states, {} unique, depth {}",
                started.elapsed().as_secs_f64(),
                checker.state_count(),
                checker.unique_state_count(),
                checker.max_depth()
            );
        }
    }
    checker.join()
}

/// Explores a configuration exhaustively (depth-first, little memory).
pub fn run_check(check: &Check, threads: usize, progress: bool) -> Report {
    let started = Instant::now();
    let model = check.model.clone();
    let properties = model.properties();
    let checker = model.checker().threads(threads).spawn_dfs();
    let checker = wait(checker, check.name, progress, started);
    let verdicts = properties
        .iter()
        .map(|p| {
            let found = checker.discovery(p.name);
            let verdict = match (&p.expectation, found) {
                (Expectation::Sometimes, Some(_)) => Verdict::Discovered,
                (Expectation::Sometimes, None) => Verdict::NotDiscovered,
                (_, None) => Verdict::Holds,
                (_, Some(path)) => Verdict::Violated(trace::render(&check.model, path)),
            };
            (p.name, p.expectation.clone(), verdict)
        })
        .collect();
    Report {
        name: check.name,
        unique_states: checker.unique_state_count(),
        states: checker.state_count(),
        max_depth: checker.max_depth(),
        seconds: started.elapsed().as_secs_f64(),
        verdicts,
    }
}

/// A mutant's result: the counterexample for the property it must break, if found.
pub struct Caught {
    pub name: &'static str,
    pub breaks: &'static str,
    pub counterexample: Option<String>,
    pub unique_states: usize,
    pub seconds: f64,
}

/// Searches breadth-first (shortest counterexample) until the expected property breaks.
pub fn run_mutant(mutant: &Mutant, progress: bool) -> Caught {
    let started = Instant::now();
    let model = mutant.model.clone();
    let wanted: BTreeSet<&'static str> = [mutant.breaks].into_iter().collect();
    let checker = model
        .checker()
        .finish_when(HasDiscoveries::AnyOf(wanted))
        .spawn_bfs();
    let checker = wait(checker, mutant.name, progress, started);
    Caught {
        name: mutant.name,
        breaks: mutant.breaks,
        counterexample: checker
            .discovery(mutant.breaks)
            .map(|p| trace::render(&mutant.model, p)),
        unique_states: checker.unique_state_count(),
        seconds: started.elapsed().as_secs_f64(),
    }
}

/// Prints a report as `durakv-check all` does.
pub fn print_report(out: &mut impl Write, report: &Report) -> std::io::Result<()> {
    writeln!(
        out,
        "{}: {} unique states ({} total), max depth {}, {:.1} s",
        report.name, report.unique_states, report.states, report.max_depth, report.seconds
    )?;
    for (name, expectation, verdict) in &report.verdicts {
        let (kind, word) = match verdict {
            Verdict::Holds => ("always", "holds".to_string()),
            Verdict::Violated(trace) => ("always", format!("VIOLATED\n{trace}")),
            Verdict::Discovered => ("sometimes", "discovered".to_string()),
            Verdict::NotDiscovered => (
                "sometimes",
                "NOT DISCOVERED (the bounds never reach it)".to_string(),
            ),
        };
        let _ = expectation;
        writeln!(out, "  {kind:9} {name}: {word}")?;
    }
    Ok(())
}

/// Prints a mutant's result as `durakv-check mutants` does.
pub fn print_caught(out: &mut impl Write, caught: &Caught, about: &str) -> std::io::Result<()> {
    match &caught.counterexample {
        Some(trace) => {
            writeln!(
                out,
                "{}: CAUGHT, breaks \"{}\" ({:.1} s)",
                caught.name, caught.breaks, caught.seconds
            )?;
            writeln!(out, "  design: {about}")?;
            write!(out, "{trace}")
        }
        None => writeln!(
            out,
            "{}: NOT CAUGHT: \"{}\" held over {} states ({about})",
            caught.name, caught.breaks, caught.unique_states
        ),
    }
}

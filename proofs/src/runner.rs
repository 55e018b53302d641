//! Running checks and mutants, with progress, and reporting verdicts.

use std::collections::BTreeSet;
use std::io::Write;
use std::time::{Duration, Instant};

use stateright::{Checker, Expectation, HasDiscoveries, Model};

use crate::catalog::{Check, Mutant};
use crate::repl_model::ReplModel;
use crate::repl_properties::{ReplCheck, ReplMutant};
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

fn wait<M: Model, C: Checker<M>>(checker: C, name: &str, progress: bool, started: Instant) -> C {
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

/// How a counterexample path of model `M` to a violation of the named property is printed.
pub type Render<M> =
    fn(&M, &str, stateright::Path<<M as Model>::State, <M as Model>::Action>) -> String;

/// Explores a configuration exhaustively (depth-first, little memory).
pub fn run_check(check: &Check, threads: usize, progress: bool) -> Report {
    explore(check.name, &check.model, threads, progress, |m, _, p| {
        trace::render(m, p)
    })
}

/// Explores a replication configuration exhaustively.
pub fn run_repl_check(check: &ReplCheck, threads: usize, progress: bool) -> Report {
    let render: Render<ReplModel> = crate::repl_properties::render;
    explore(check.name, &check.model, threads, progress, render)
}

/// Explores `model` exhaustively (depth-first) and gives each property's verdict.
pub fn explore<M>(
    name: &'static str,
    model: &M,
    threads: usize,
    progress: bool,
    render: Render<M>,
) -> Report
where
    M: Model + Clone + Send + Sync + 'static,
    M::State: Clone + std::fmt::Debug + std::hash::Hash + Eq + Send + Sync + 'static,
    M::Action: Clone + std::fmt::Debug + Eq + Send + Sync + 'static,
{
    let started = Instant::now();
    let properties = model.properties();
    let checker = model.clone().checker().threads(threads).spawn_dfs();
    let checker = wait(checker, name, progress, started);
    let verdicts = properties
        .iter()
        .map(|p| {
            let found = checker.discovery(p.name);
            let verdict = match (&p.expectation, found) {
                (Expectation::Sometimes, Some(_)) => Verdict::Discovered,
                (Expectation::Sometimes, None) => Verdict::NotDiscovered,
                (_, None) => Verdict::Holds,
                (_, Some(path)) => Verdict::Violated(render(model, p.name, path)),
            };
            (p.name, p.expectation.clone(), verdict)
        })
        .collect();
    Report {
        name,
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
    search(
        mutant.name,
        mutant.breaks,
        &mutant.model,
        progress,
        |m, _, p| trace::render(m, p),
    )
}

/// A replication mutant, searched as [`run_mutant`] does.
pub fn run_repl_mutant(mutant: &ReplMutant, progress: bool) -> Caught {
    let render: Render<ReplModel> = crate::repl_properties::render;
    search(mutant.name, mutant.breaks, &mutant.model, progress, render)
}

/// Searches `model` breadth-first until property `breaks` is violated.
pub fn search<M>(
    name: &'static str,
    breaks: &'static str,
    model: &M,
    progress: bool,
    render: Render<M>,
) -> Caught
where
    M: Model + Clone + Send + Sync + 'static,
    M::State: Clone + std::fmt::Debug + std::hash::Hash + Eq + Send + Sync + 'static,
    M::Action: Clone + std::fmt::Debug + Eq + Send + Sync + 'static,
{
    let started = Instant::now();
    let wanted: BTreeSet<&'static str> = [breaks].into_iter().collect();
    let checker = model
        .clone()
        .checker()
        .finish_when(HasDiscoveries::AnyOf(wanted))
        .spawn_bfs();
    let checker = wait(checker, name, progress, started);
    Caught {
        name,
        breaks,
        counterexample: checker.discovery(breaks).map(|p| render(model, breaks, p)),
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

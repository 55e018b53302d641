//! Keeps `proofs/INVARIANTS.md` honest: each counterexample in it is a block between
//! `<!-- counterexample: NAME -->` and `<!-- end -->`, regenerated from the mutant NAME, and
//! the block `<!-- properties -->` ... `<!-- end -->` is the list of properties generated from
//! `properties.rs` (what each configuration checks, and the mutants that break each).
//! A test fails when the document differs from what `durakv-check` prints today.

use std::collections::BTreeMap;

use stateright::{Expectation, Model};

use crate::catalog::{checks, mutants};
use crate::repl_properties as repl;
use crate::runner::run_mutant;

const PROPERTIES: &str = "<!-- properties -->";

const OPEN: &str = "<!-- counterexample: ";
const CLOSE: &str = "<!-- end -->";

/// The document with every counterexample block replaced by the current trace.
pub fn refresh(doc: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = doc;
    while let Some(start) = rest.find(OPEN) {
        let after_open = &rest[start + OPEN.len()..];
        let name_end = after_open
            .find(" -->")
            .ok_or("unterminated counterexample marker")?;
        let name = &after_open[..name_end];
        let end = after_open
            .find(CLOSE)
            .ok_or_else(|| format!("no {CLOSE} after {name}"))?;
        out.push_str(&rest[..start]);
        out.push_str(&format!(
            "{OPEN}{name} -->\n```text\n{}```\n{CLOSE}",
            render(name)?
        ));
        rest = &after_open[end + CLOSE.len()..];
    }
    out.push_str(rest);
    refresh_properties(&out)
}

/// The properties block replaced by the table generated from the catalogue.
fn refresh_properties(doc: &str) -> Result<String, String> {
    let Some(start) = doc.find(PROPERTIES) else {
        return Ok(doc.to_string());
    };
    let after = &doc[start + PROPERTIES.len()..];
    let end = after
        .find(CLOSE)
        .ok_or("no end after the properties block")?;
    Ok(format!(
        "{}{PROPERTIES}\n{}{CLOSE}{}",
        &doc[..start],
        properties_table(),
        &after[end + CLOSE.len()..]
    ))
}

/// The disk a configuration runs on, in the table's words.
fn disk_mode(m: &crate::aof_model::AofModel) -> &'static str {
    use model::sim::{Damage, Metadata};
    match (m.lies.metadata, m.lies.damage) {
        (_, Some(Damage::Flip)) => "bit flip",
        (_, Some(Damage::Garbage)) => "garbage",
        (Metadata::PerDirectory, None) => "per-directory",
        (Metadata::Journal, None) => "honest",
    }
}

/// Every property any configuration checks: its kind, where it is checked and on which
/// disks, which mutants (and known lies) must break it.
pub fn properties_table() -> String {
    let mut rows: BTreeMap<(bool, &'static str), Vec<&'static str>> = BTreeMap::new();
    let mut disks: BTreeMap<&'static str, std::collections::BTreeSet<&str>> = BTreeMap::new();
    for check in checks() {
        for p in check.model.properties() {
            let always = p.expectation == Expectation::Always;
            rows.entry((!always, p.name)).or_default().push(check.name);
            disks
                .entry(p.name)
                .or_default()
                .insert(disk_mode(&check.model));
        }
    }
    let total = checks().len();
    let mut out = String::from(
        "| property | kind | checked in | disks | broken by mutants |\n|---|---|---|---|---|\n",
    );
    for ((sometimes, name), configs) in rows {
        let kind = if sometimes { "sometimes" } else { "always" };
        let wherever = if configs.len() == total {
            "every configuration".to_string()
        } else {
            configs.join(", ")
        };
        let breakers: Vec<&str> = mutants()
            .into_iter()
            .filter(|m| m.breaks == name)
            .map(|m| m.name)
            .collect();
        let on: Vec<&str> = disks[name].iter().copied().collect();
        out.push_str(&format!(
            "| {name} | {kind} | {wherever} | {} | {} |\n",
            on.join(", "),
            breakers.join(", ")
        ));
    }
    out + &repl_rows()
}

/// The replication model's properties: where each is checked and the mutants that break it.
fn repl_rows() -> String {
    let mut rows: BTreeMap<(bool, &'static str), Vec<&'static str>> = BTreeMap::new();
    for check in repl::checks() {
        for p in check.model.properties() {
            let always = p.expectation == Expectation::Always;
            rows.entry((!always, p.name)).or_default().push(check.name);
        }
    }
    let mut out = String::new();
    for ((sometimes, name), configs) in rows {
        let kind = if sometimes { "sometimes" } else { "always" };
        let breakers: Vec<&str> = (repl::mutants().into_iter())
            .filter(|m| m.breaks == name)
            .map(|m| m.name)
            .collect();
        out.push_str(&format!(
            "| {name} | {kind} | {} | two engines, honest | {} |\n",
            configs.join(", "),
            breakers.join(", ")
        ));
    }
    out
}

fn render(name: &str) -> Result<String, String> {
    if let Some(mutant) = repl::mutants().into_iter().find(|m| m.name == name) {
        let caught = crate::runner::run_repl_mutant(&mutant, false);
        let trace = caught
            .counterexample
            .ok_or_else(|| format!("mutant {name} was not caught"))?;
        return Ok(format!(
            "durakv-check check {name}\nbreaks \"{}\"\n{trace}",
            mutant.breaks
        ));
    }
    let mutant = mutants()
        .into_iter()
        .find(|m| m.name == name)
        .ok_or_else(|| format!("no mutant {name}"))?;
    let caught = run_mutant(&mutant, false);
    let trace = caught
        .counterexample
        .ok_or_else(|| format!("mutant {name} was not caught"))?;
    Ok(format!(
        "durakv-check check {name}\nbreaks \"{}\"\n{trace}",
        mutant.breaks
    ))
}

//! Keeps `proofs/INVARIANTS.md` honest: each counterexample in it is a block between
//! `<!-- counterexample: NAME -->` and `<!-- end -->`, regenerated from the mutant NAME.
//! A test fails when the document differs from what `durakv-check` prints today.

use crate::catalog::mutants;
use crate::runner::run_mutant;

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
    Ok(out)
}

fn render(name: &str) -> Result<String, String> {
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

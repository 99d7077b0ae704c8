//! `kolokasi playbook check|list|actions`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use super::Ctx;
use super::output::{print_json, print_table};
use crate::engine::Playbook;

#[derive(Debug, Subcommand)]
pub enum PlaybookCmd {
    /// Check a playbook file: actions, parameters, references (names file, line and step).
    Check { file: PathBuf },
    /// The playbooks in use and their steps.
    List,
    /// The actions a playbook may name, with their parameters and outputs.
    Actions,
}

pub async fn run(ctx: &Ctx, cmd: PlaybookCmd) -> anyhow::Result<ExitCode> {
    let registry = crate::actions::builtin();
    match cmd {
        PlaybookCmd::Check { file } => {
            let pb = Playbook::load(&file, &registry)?;
            if ctx.json {
                print_json(&serde_json::json!({ "ok": true, "name": pb.name, "steps": pb.steps.len() }));
            } else {
                println!("{}: playbook {} is valid ({} steps)", file.display(), pb.name, pb.steps.len());
            }
        }
        PlaybookCmd::List => {
            let pbs = crate::engine::Engine::load_playbooks(ctx.settings.playbook_dir().as_deref(), &registry)?;
            if ctx.json {
                print_json(&pbs);
            } else {
                for pb in pbs {
                    println!("{} — {}", pb.name, pb.description);
                    let rows: Vec<Vec<String>> = pb.steps.iter().enumerate().map(|(i, s)| vec![(i + 1).to_string(), s.name.clone(), s.action.clone()]).collect();
                    print_table(&["#", "STEP", "ACTION"], &rows);
                    println!();
                }
            }
        }
        PlaybookCmd::Actions => {
            let rows: Vec<Vec<String>> = registry
                .all()
                .map(|a| {
                    let params: Vec<String> = a.params().iter().map(|p| if p.required { p.name.to_string() } else { format!("[{}]", p.name) }).collect();
                    vec![a.name().to_string(), a.describe().to_string(), params.join(" "), a.outputs().join(" ")]
                })
                .collect();
            print_table(&["ACTION", "WHAT IT DOES", "PARAMETERS", "OUTPUTS"], &rows);
        }
    }
    Ok(ExitCode::SUCCESS)
}

//! `stratic-keras declare model.keras [--name Model] [--check]`: prints the `model!`
//! declaration of a model Keras saved, ready to paste; lists what it cannot declare instead.
//! With `--check`, it also compares every weight in the file with the declaration's weights
//! (paths and shapes, through the layer specs) and fails on any difference.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: stratic-keras declare MODEL.keras [--name StructName] [--check]";
    let (Some("declare"), Some(path)) = (args.first().map(String::as_str), args.get(1)) else {
        eprintln!("{usage}");
        return ExitCode::from(2);
    };
    let name = match args.iter().position(|a| a == "--name") {
        Some(i) => match args.get(i + 1) {
            Some(n) => n.clone(),
            None => {
                eprintln!("{usage}");
                return ExitCode::from(2);
            }
        },
        None => "Model".to_string(),
    };
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{path}: {e}");
            return ExitCode::from(1);
        }
    };
    match stratic_keras::declare_keras_file(&bytes, &name) {
        Ok(source) => {
            print!("{source}");
            if !args.iter().any(|a| a == "--check") {
                return ExitCode::SUCCESS;
            }
            match stratic_keras::check_keras_file(&bytes) {
                Ok(report) if report.problems.is_empty() => {
                    eprintln!(
                        "{path}: checked: all {} weights in the file match the declaration",
                        report.matched
                    );
                    ExitCode::SUCCESS
                }
                Ok(report) => {
                    eprintln!(
                        "{path}: {} weights match, {} differences:",
                        report.matched,
                        report.problems.len()
                    );
                    for p in &report.problems {
                        eprintln!("  - {p}");
                    }
                    ExitCode::from(1)
                }
                Err(e) => {
                    eprintln!("{path}: {e}");
                    ExitCode::from(1)
                }
            }
        }
        Err(e) => {
            eprintln!("{path}: {e}");
            ExitCode::from(1)
        }
    }
}

//! `iocinit check-config [--config PATH] [--ioc-dir PATH] [--strict-epoch] [--json]`:
//! loads the configuration as PID 1 would and reports every problem.
//!
//! Exit status 0 when there is no error (warnings allowed), 1 otherwise, also
//! when only an IOC file is bad (PID 1 would still boot the rest). Problems go
//! to stderr as `PATH:LINE: message` / `PATH:LINE: warning: message`, then at
//! most one `PATH:LINE: note: ...` when objects share a priority (they start
//! together here, one after another in Epoch); `--json` prints the resolved
//! model (or, when it is unusable, only the diagnostics) to stdout.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::config::{dump, load, Config, LoadOptions, Loaded, Object};

const HELP: &str = "\
Usage: iocinit check-config [--config PATH] [--ioc-dir DIR] [--strict-epoch] [--json] [--local]

Check a configuration (epoch.conf, its Imports and the IOC files) as PID 1
would load it, and report every problem.

  --config PATH     the configuration file (default /etc/epoch/epoch.conf;
                    under --local ~/.config/iocinit/epoch.conf)
  --ioc-dir DIR     read the IOC files from this directory instead of
                    IocDirectory
  --strict-epoch    accept only Epoch's own language (reject iocinit's
                    extensions)
  -j, --json        print the resolved model as JSON
  --local           use the --local defaults
  -h, --help        show this help";

/// What the command line asks for.
#[derive(Default)]
struct Args {
    config: Option<PathBuf>,
    ioc_dir: Option<PathBuf>,
    strict_epoch: bool,
    json: bool,
    local: bool,
}

/// Parses the options; Err is what to print and the exit code.
fn parse(words: &[String]) -> Result<Args, (String, i32)> {
    let usage_error = |what: String| Err((format!("iocinit check-config: {what}; see `iocinit check-config --help`"), super::EXIT_USAGE));
    let mut args = Args::default();
    let mut it = words.iter();
    while let Some(word) = it.next() {
        let path = match word.as_str() {
            "--strict-epoch" => {
                args.strict_epoch = true;
                continue;
            }
            "--json" | "-j" => {
                args.json = true;
                continue;
            }
            "--local" => {
                args.local = true;
                continue;
            }
            "--help" | "-h" | "help" => return Err((HELP.into(), super::EXIT_OK)),
            "--config" => &mut args.config,
            "--ioc-dir" => &mut args.ioc_dir,
            _ => return usage_error(format!("unexpected argument {}", crate::logging::Quoted::text(word))),
        };
        match it.next() {
            Some(value) => *path = Some(value.into()),
            None => return usage_error(format!("{word} needs a value")),
        }
    }
    Ok(args)
}

/// `iocinit check-config ...`
pub fn main(args: Vec<String>) -> i32 {
    let a = match parse(&args) {
        Ok(a) => a,
        Err((text, super::EXIT_OK)) => {
            println!("{text}");
            return super::EXIT_OK;
        }
        Err((text, code)) => {
            eprintln!("{text}");
            return code;
        }
    };
    let layout = if a.local { crate::layout::Layout::local() } else { crate::layout::Layout::system() };
    let config = a.config.unwrap_or_else(|| layout.default_config.clone());
    let ioc_dir = a.ioc_dir.or(layout.local_ioc_dir);
    run(&config, ioc_dir.as_deref(), a.strict_epoch, a.json)
}

pub fn run(config: &Path, ioc_dir: Option<&Path>, strict_epoch: bool, json: bool) -> i32 {
    let options = LoadOptions { strict_epoch, ioc_dir: ioc_dir.map(Path::to_path_buf) };
    let loaded = load(config, &options);
    report(&loaded, json, &mut io::stdout().lock(), &mut io::stderr().lock())
}

/// Writes the outcome of a load; returns the exit status. Write errors (a
/// closed pipe) are ignored: the exit status still tells the outcome.
pub fn report(loaded: &Loaded, json: bool, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    for diagnostic in &loaded.diagnostics {
        let _ = writeln!(err, "{diagnostic}");
    }
    if let Some((config, (attribute, priority, a, b))) = loaded.config.as_ref().and_then(|c| Some((c, shared_priority(c)?))) {
        let _ = writeln!(
            err,
            "{}: note: objects {} and {} have the same {attribute} {priority}: iocinit starts the objects of one start priority \
             together, and stops those of one stop priority together, where Epoch runs them one after another \
             (docs/CONFIG.md, \"Differences from Epoch\")",
            crate::config::place(&config.files, b.location),
            a.id,
            b.id
        );
    }
    if json {
        let document = match &loaded.config {
            Some(config) => dump::to_json(config, &loaded.diagnostics),
            None => dump::diagnostics_to_json(&loaded.diagnostics),
        };
        let _ = writeln!(out, "{document}");
    }
    i32::from(loaded.has_errors())
}

/// The first two objects of epoch.conf that share a start priority (boot and
/// runlevel changes start them together) or a stop priority, with that
/// attribute and priority: a migrator from Epoch, which runs them one after
/// another, is told once. IOC files do not count: they are iocinit's own,
/// and start together by design. "First" as a walk in file order meets
/// them: the pair whose second object comes first, with the first object
/// of its priority. Found by sorting, not by looking back from each object
/// (which took seconds at tens of thousands of objects).
fn shared_priority(config: &Config) -> Option<(&'static str, u32, &Object, &Object)> {
    let objects = &config.objects;
    [("ObjectStartPriority", true), ("ObjectStopPriority", false)].into_iter().find_map(|(attribute, start)| {
        // (priority, place in the file) of every object of epoch.conf that has one.
        let mut ranked: Vec<(u32, u32)> = Vec::new();
        for (place, o) in (0u32..).zip(objects) {
            // 0 is "not by priority"; a HALTONLY object is never started.
            let priority = match start {
                true if o.options.halt_only => 0,
                true => o.start_priority,
                false => o.stop_priority,
            };
            if priority > 0 && !o.console.as_ref().is_some_and(|c| c.from_ioc_file) {
                ranked.push((priority, place));
            }
        }
        // The objects of one priority side by side, in file order (the
        // places differ, so the unstable sort, which the program has for
        // such pairs already, orders them as a stable one would).
        ranked.sort_unstable();
        // Of each priority's neighbours, (first, second) has its earliest second object.
        let (a, b) = ranked.windows(2).filter(|pair| pair[0].0 == pair[1].0).map(|pair| (pair[0], pair[1])).min_by_key(|&(_, b)| b.1)?;
        Some((attribute, b.0, &objects[a.1 as usize], &objects[b.1 as usize]))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{load_with, MemFs};

    const MAIN: &str = "/etc/epoch/epoch.conf";

    fn parsed(line: &str) -> Result<Args, (String, i32)> {
        parse(&line.split_whitespace().map(String::from).collect::<Vec<_>>())
    }

    #[test]
    fn options_are_parsed_and_mistakes_are_usage_errors() {
        let a = parsed("--config /c.conf -j --ioc-dir /iocs --strict-epoch --local").unwrap_or_else(|(e, _)| panic!("{e}"));
        assert_eq!((a.config.as_deref(), a.ioc_dir.as_deref()), (Some(Path::new("/c.conf")), Some(Path::new("/iocs"))));
        assert!(a.json && a.strict_epoch && a.local);
        assert!(parsed("").is_ok_and(|a| a.config.is_none() && !a.json));
        let (help, code) = parsed("--help").err().unwrap();
        assert_eq!(code, crate::cli::EXIT_OK);
        assert!(help.starts_with("Usage: iocinit check-config "), "{help}");
        for (line, what) in [("--config", "--config needs a value"), ("--bogus", "unexpected argument \"--bogus\""), ("x", "unexpected argument \"x\"")] {
            let (text, code) = parsed(line).err().unwrap();
            assert_eq!(code, crate::cli::EXIT_USAGE, "{line}");
            assert_eq!(text, format!("iocinit check-config: {what}; see `iocinit check-config --help`"));
        }
    }

    /// What `check-config` writes to stderr for `text` (IOC files `iocs`).
    fn stderr_for(text: &str, iocs: &[&str]) -> String {
        let mut files = MemFs::new().with(MAIN, text);
        for (i, ioc) in iocs.iter().enumerate() {
            files.insert(format!("/etc/procServ.d/{ioc}.conf"), format!("IOC_NAME={ioc}\nIOC_CMD=./st.cmd{i}\n"));
        }
        let loaded = load_with(&files, Path::new(MAIN), &LoadOptions::default());
        let (mut out, mut err) = (Vec::new(), Vec::new());
        assert_eq!(report(&loaded, false, &mut out, &mut err), 0);
        String::from_utf8(err).unwrap()
    }

    fn object(id: &str, start: u32, stop: u32) -> String {
        format!("ObjectID {id}\nObjectStartCommand x\nObjectStartPriority {start}\nObjectStopPriority {stop}\nObjectRunlevels default\n")
    }

    #[test]
    fn equal_priorities_get_one_note() {
        let note = |line: u32, a: &str, b: &str, attribute: &str, priority: u32| {
            format!(
                "{MAIN}:{line}: note: objects {a} and {b} have the same {attribute} {priority}: iocinit starts the objects of one \
                 start priority together, and stops those of one stop priority together, where Epoch runs them one after \
                 another (docs/CONFIG.md, \"Differences from Epoch\")\n"
            )
        };
        let text = format!("DefaultRunlevel default\n{}{}{}{}", object("a", 1, 3), object("b", 2, 2), object("c", 1, 2), object("d", 1, 1));
        // Once, for the first pair found, though a, c and d share a start
        // priority and b and c a stop priority.
        assert_eq!(stderr_for(&text, &[]), note(12, "a", "c", "ObjectStartPriority", 1));
        let text = format!("DefaultRunlevel default\n{}{}", object("a", 1, 2), object("b", 2, 2));
        assert_eq!(stderr_for(&text, &[]), note(7, "a", "b", "ObjectStopPriority", 2));
        // Distinct priorities, 0 (not by priority), HALTONLY objects' start
        // priority and IOC files (which start together by design): no note.
        let halt = "ObjectID h\nObjectStopCommand x\nObjectStopPriority 9\nObjectOptions HALTONLY\n";
        let text = format!("DefaultRunlevel default\n{}{}{}{halt}", object("a", 1, 2), object("b", 0, 0), object("c", 0, 0));
        assert_eq!(stderr_for(&text, &["vac1", "vac2"]), "");
    }

    /// The note names the pair a walk in file order meets first, as looking
    /// back from each object finds it (the oracle here, what the note was
    /// found by before), on random priorities, HALTONLY objects and IOC files.
    #[test]
    fn the_shared_priority_is_the_first_pair_in_file_order() {
        fn looked_back(config: &Config) -> Option<(&'static str, u32, String, String)> {
            let own: Vec<&Object> =
                config.objects.iter().filter(|o| !o.console.as_ref().is_some_and(|c| c.from_ioc_file)).collect();
            [("ObjectStartPriority", true), ("ObjectStopPriority", false)].into_iter().find_map(|(attribute, start)| {
                let priority_of = |o: &Object| match start {
                    true if o.options.halt_only => 0,
                    true => o.start_priority,
                    false => o.stop_priority,
                };
                own.iter().enumerate().find_map(|(i, &b)| {
                    let priority = priority_of(b);
                    let &a = own[..i].iter().find(|&&a| priority > 0 && priority_of(a) == priority)?;
                    Some((attribute, priority, a.id.to_string(), b.id.to_string()))
                })
            })
        }
        let mut state = 0x2545_f491_u32;
        let mut below = |n: u32| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state % n
        };
        let (mut compared, mut notes) = (0, 0);
        for _ in 0..400 {
            let mut files = MemFs::new();
            let mut text = String::from("DefaultRunlevel default\n");
            for i in 0..1 + below(10) {
                let (start, stop) = (below(5), below(5));
                text += &match below(6) {
                    0 => format!("ObjectID o{i}\nObjectStopCommand x\nObjectStopPriority {stop}\nObjectOptions HALTONLY\n"),
                    _ => object(&format!("o{i}"), start, stop),
                };
            }
            for ioc in 0..below(3) {
                files.insert(format!("/etc/procServ.d/ioc{ioc}.conf"), format!("IOC_NAME=ioc{ioc}\nIOC_CMD=./st.cmd\n"));
            }
            files.insert(MAIN.to_string(), text);
            let loaded = load_with(&files, Path::new(MAIN), &LoadOptions::default());
            let config = loaded.config.as_ref().expect("a valid configuration");
            let found = shared_priority(config).map(|(attribute, p, a, b)| (attribute, p, a.id.to_string(), b.id.to_string()));
            assert_eq!(found, looked_back(config), "{:?}", files);
            compared += 1;
            notes += usize::from(found.is_some());
        }
        // Both outcomes were met often.
        assert!(notes > 100 && compared - notes > 20, "{notes} notes in {compared}");
    }
}

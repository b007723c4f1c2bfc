//! Per-object process settings (extensions): resource limits, nice value,
//! umask and CPU affinity, as the IOC-file variables `IOC_RTPRIO`,
//! `IOC_MEMLOCK`, `IOC_CORESIZE`, `IOC_NICE`, `IOC_UMASK`, `IOC_CPUS` and the
//! object attributes `ObjectRtPrio`, `ObjectMemLock`, `ObjectCoreSize`,
//! `ObjectNice`, `ObjectUmask`, `ObjectCPUs` give them. Parsed and checked
//! here when a configuration loads; the engine's plan turns them into what
//! the spawned child applies with raw system calls (spawn::ProcessSetup).

use std::fmt;

use super::values::{self, digits, got, ValueError};

/// `RLIM_INFINITY`: a limit written `infinity` (or `unlimited`).
pub const INFINITY: u64 = u64::MAX;

/// CPUs an affinity list may name: 0..1023, as glibc's cpu_set_t.
pub const MAX_CPUS: u32 = 1024;

/// The highest RLIMIT_RTPRIO: SCHED_FIFO priorities are 1..99.
pub const MAX_RTPRIO: u64 = 99;

/// One process setting, by the name it has in each language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    RtPrio,
    MemLock,
    CoreSize,
    Nice,
    Umask,
    Cpus,
}

impl Setting {
    pub const ALL: [Setting; 6] = [Setting::RtPrio, Setting::MemLock, Setting::CoreSize, Setting::Nice, Setting::Umask, Setting::Cpus];

    /// The IOC-file variable.
    pub const fn ioc_variable(self) -> &'static str {
        match self {
            Setting::RtPrio => "IOC_RTPRIO",
            Setting::MemLock => "IOC_MEMLOCK",
            Setting::CoreSize => "IOC_CORESIZE",
            Setting::Nice => "IOC_NICE",
            Setting::Umask => "IOC_UMASK",
            Setting::Cpus => "IOC_CPUS",
        }
    }

    /// Its name in JSON (`check-config --json`, `status --json`).
    pub fn json_name(self) -> &'static str {
        match self {
            Setting::RtPrio => "rtprio",
            Setting::MemLock => "memlock",
            Setting::CoreSize => "core_size",
            Setting::Nice => "nice",
            Setting::Umask => "umask",
            Setting::Cpus => "cpus",
        }
    }

    /// The epoch.conf object attribute.
    pub fn attribute(self) -> &'static str {
        match self {
            Setting::RtPrio => "ObjectRtPrio",
            Setting::MemLock => "ObjectMemLock",
            Setting::CoreSize => "ObjectCoreSize",
            Setting::Nice => "ObjectNice",
            Setting::Umask => "ObjectUmask",
            Setting::Cpus => "ObjectCPUs",
        }
    }

    /// What a value must be.
    fn expected(self) -> &'static str {
        match self {
            Setting::RtPrio => "the highest real-time priority allowed, 0 to 99",
            Setting::MemLock | Setting::CoreSize => "a size in bytes, a number optionally followed by K, M or G, or infinity",
            Setting::Nice => "a nice value from -20 to 19",
            Setting::Umask => "an octal umask such as 0022 or 027",
            Setting::Cpus => "CPU numbers 0 to 1023 and ranges, such as 0,2-3",
        }
    }

    pub fn from_ioc_variable(name: &str) -> Option<Setting> {
        Setting::ALL.into_iter().find(|s| s.ioc_variable() == name)
    }
}

/// The settings of one object's start command (`None`: inherited from the
/// supervisor, as without them).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProcessSettings {
    /// RLIMIT_RTPRIO, soft and hard: 0..99.
    pub rtprio: Option<u64>,
    /// RLIMIT_MEMLOCK in bytes ([`INFINITY`] allowed).
    pub memlock: Option<u64>,
    /// RLIMIT_CORE in bytes ([`INFINITY`] allowed).
    pub core_size: Option<u64>,
    /// -20..19.
    pub nice: Option<i32>,
    /// 0..0o777.
    pub umask: Option<u32>,
    /// CPU affinity: inclusive ranges, each below [`MAX_CPUS`].
    pub cpus: Option<Vec<(u32, u32)>>,
}

impl ProcessSettings {
    /// Sets `setting` from its text; `Err`: what was expected, and what was
    /// found (for epoch.conf).
    pub fn set(&mut self, setting: Setting, value: &str) -> Result<(), ValueError> {
        self.try_set(setting, value).ok_or_else(|| format!("expected {}, {}", setting.expected(), got(value)))
    }

    /// [`ProcessSettings::set`] that does not quote the value (an IOC file's
    /// diagnostics never do); `Err`: what was expected.
    pub fn set_quietly(&mut self, setting: Setting, value: &str) -> Result<(), &'static str> {
        self.try_set(setting, value).ok_or(setting.expected())
    }

    fn try_set(&mut self, setting: Setting, value: &str) -> Option<()> {
        match setting {
            Setting::RtPrio => self.rtprio = Some(rtprio(value)?),
            Setting::MemLock => self.memlock = Some(limit_size(value)?),
            Setting::CoreSize => self.core_size = Some(limit_size(value)?),
            Setting::Nice => self.nice = Some(nice(value)?),
            Setting::Umask => self.umask = Some(umask(value)?),
            Setting::Cpus => self.cpus = Some(cpu_list(value)?),
        }
        Some(())
    }

    pub fn is_empty(&self) -> bool {
        *self == ProcessSettings::default()
    }

    /// The first setting that only a file root controls may give: one that
    /// lets the IOC take the board from everything else (real-time
    /// scheduling, locked memory, a negative nice value). docs/CONFIG.md,
    /// "Who an IOC runs as".
    pub fn privileged(&self) -> Option<Setting> {
        if self.rtprio.is_some_and(|p| p > 0) {
            Some(Setting::RtPrio)
        } else if self.memlock.is_some() {
            Some(Setting::MemLock)
        } else if self.nice.is_some_and(|n| n < 0) {
            Some(Setting::Nice)
        } else {
            None
        }
    }

    /// Each setting given, with its value as `status` shows it.
    pub fn shown(&self) -> impl Iterator<Item = (Setting, Shown<'_>)> {
        let all = [
            self.rtprio.map(|p| (Setting::RtPrio, Shown::Number(p as i64))),
            self.memlock.map(|b| (Setting::MemLock, Shown::Size(b))),
            self.core_size.map(|b| (Setting::CoreSize, Shown::Size(b))),
            self.nice.map(|n| (Setting::Nice, Shown::Number(n.into()))),
            self.umask.map(|m| (Setting::Umask, Shown::Octal(m))),
            self.cpus.as_deref().map(|c| (Setting::Cpus, Shown::Cpus(c))),
        ];
        all.into_iter().flatten()
    }
}

/// A setting's value, written back as it may be read (`64M`, `0027`, `0,2-3`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shown<'a> {
    Number(i64),
    Size(u64),
    Octal(u32),
    Cpus(&'a [(u32, u32)]),
}

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Shown::Number(n) => write!(f, "{n}"),
            Shown::Size(INFINITY) => f.write_str("infinity"),
            Shown::Size(bytes) => {
                let unit = [(30, 'G'), (20, 'M'), (10, 'K')].into_iter().find(|&(shift, _)| bytes != 0 && bytes % (1 << shift) == 0);
                match unit {
                    Some((shift, letter)) => write!(f, "{}{letter}", bytes >> shift),
                    None => write!(f, "{bytes}"),
                }
            }
            Shown::Octal(mask) => write!(f, "{mask:04o}"),
            Shown::Cpus(ranges) => {
                for (k, &(first, last)) in ranges.iter().enumerate() {
                    let comma = if k > 0 { "," } else { "" };
                    if first == last {
                        write!(f, "{comma}{first}")?;
                    } else {
                        write!(f, "{comma}{first}-{last}")?;
                    }
                }
                Ok(())
            }
        }
    }
}

/// Decimal digits only, at most 19 of them (a longer value is refused, even
/// one with leading zeros).
fn decimal(text: &str) -> Option<u64> {
    digits(text).filter(|d| d.len() <= 19).and_then(values::decimal)
}

fn rtprio(text: &str) -> Option<u64> {
    decimal(text).filter(|&p| p <= MAX_RTPRIO)
}

/// Bytes: `n`, `nK`, `nM`, `nG`, or `infinity`/`unlimited`.
fn limit_size(text: &str) -> Option<u64> {
    if text == "infinity" || text == "unlimited" {
        return Some(INFINITY);
    }
    let (number, shift) = match text.as_bytes().last() {
        Some(b'K') => (&text[..text.len() - 1], 10),
        Some(b'M') => (&text[..text.len() - 1], 20),
        Some(b'G') => (&text[..text.len() - 1], 30),
        _ => (text, 0),
    };
    decimal(number).and_then(|n| n.checked_mul(1 << shift)).filter(|&bytes| bytes != INFINITY)
}

fn nice(text: &str) -> Option<i32> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let n = i32::try_from(decimal(digits)?).ok()?;
    Some(if negative { -n } else { n }).filter(|n| (-20..=19).contains(n))
}

fn umask(text: &str) -> Option<u32> {
    let octal = !text.is_empty() && text.len() <= 4 && text.bytes().all(|b| (b'0'..=b'7').contains(&b));
    octal.then(|| u32::from_str_radix(text, 8).ok()).flatten().filter(|&m| m <= 0o777)
}

/// `0,2-3`: CPU numbers and inclusive ranges, comma-separated, no blanks.
fn cpu_list(text: &str) -> Option<Vec<(u32, u32)>> {
    let cpu = |s: &str| decimal(s).and_then(|n| u32::try_from(n).ok()).filter(|&n| n < MAX_CPUS);
    text.split(',')
        .map(|item| {
            let (first, last) = item.split_once('-').unwrap_or((item, item));
            Some((cpu(first)?, cpu(last)?)).filter(|(first, last)| first <= last)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(setting: Setting, text: &str) -> Result<String, ValueError> {
        let mut s = ProcessSettings::default();
        s.set(setting, text)?;
        Ok(s.shown().map(|(_, v)| v.to_string()).collect())
    }

    #[test]
    fn values_parse_and_show_back() {
        let good = [
            (Setting::RtPrio, "0", "0"),
            (Setting::RtPrio, "99", "99"),
            (Setting::MemLock, "64M", "64M"),
            (Setting::MemLock, "65536", "64K"),
            (Setting::MemLock, "infinity", "infinity"),
            (Setting::CoreSize, "unlimited", "infinity"),
            (Setting::CoreSize, "0", "0"),
            (Setting::CoreSize, "1000", "1000"),
            (Setting::CoreSize, "2G", "2G"),
            (Setting::Nice, "-20", "-20"),
            (Setting::Nice, "+5", "5"),
            (Setting::Nice, "19", "19"),
            (Setting::Umask, "022", "0022"),
            (Setting::Umask, "0777", "0777"),
            (Setting::Umask, "7", "0007"),
            (Setting::Cpus, "0,2-3", "0,2-3"),
            (Setting::Cpus, "1023", "1023"),
            (Setting::Cpus, "3-3", "3"),
        ];
        for (setting, text, shown) in good {
            assert_eq!(parsed(setting, text).as_deref(), Ok(shown), "{setting:?} {text}");
        }
    }

    #[test]
    fn bad_values_say_what_was_expected() {
        let bad = [
            (Setting::RtPrio, "100"),
            (Setting::RtPrio, "-1"),
            (Setting::RtPrio, ""),
            (Setting::RtPrio, " 5"),
            (Setting::MemLock, "64m"),
            (Setting::MemLock, "M"),
            (Setting::MemLock, "-1"),
            (Setting::MemLock, "99999999999999999999"),
            (Setting::MemLock, "17179869184G"),
            (Setting::MemLock, "18446744073709551615"),
            (Setting::CoreSize, "1T"),
            (Setting::Nice, "-21"),
            (Setting::Nice, "20"),
            (Setting::Nice, "--1"),
            (Setting::Nice, "-"),
            (Setting::Umask, "0888"),
            (Setting::Umask, "01777"),
            (Setting::Umask, "u=rwx"),
            (Setting::Umask, ""),
            (Setting::Cpus, ""),
            (Setting::Cpus, "0,"),
            (Setting::Cpus, "3-2"),
            (Setting::Cpus, "1024"),
            (Setting::Cpus, "0, 1"),
            (Setting::Cpus, "a-b"),
            (Setting::Cpus, "1-2-3"),
        ];
        for (setting, text) in bad {
            let e = parsed(setting, text).unwrap_err();
            assert!(e.starts_with("expected ") && e.contains(&format!("{text:?}")), "{setting:?} {text}: {e}");
        }
    }

    /// Both languages give the same settings; `--strict-epoch` refuses the
    /// attributes; a file the IOC group may write cannot raise the IOC's
    /// real-time priority, locked memory or priority.
    #[test]
    fn attributes_and_ioc_variables_load_and_only_root_files_may_raise() {
        use crate::config::{load_with, LoadOptions, MemFs};
        use std::path::Path;
        let conf = "DefaultRunlevel default\nObjectID rt\nObjectStartCommand /bin/rt\nObjectStartPriority 1\nObjectRunlevels default\n\
                    ObjectRtPrio 80\nObjectMemLock infinity\nObjectCoreSize 1G\nObjectNice -5\nObjectUmask 027\nObjectCPUs 0,2-3\n";
        let ioc = "IOC_NAME=vac1\nIOC_CMD=./st.cmd\nIOC_RTPRIO=80\nIOC_MEMLOCK=infinity\nIOC_CORESIZE=1G\nIOC_NICE=-5\nIOC_UMASK=027\nIOC_CPUS=0,2-3\n";
        let main = Path::new("/etc/epoch/epoch.conf");
        let files = MemFs::new().with(main, conf).with("/etc/procServ.d/vac1.conf", ioc);
        let loaded = load_with(&files, main, &LoadOptions::default());
        assert!(!loaded.has_errors(), "{:?}", loaded.diagnostics);
        let config = loaded.config.unwrap();
        let expected = ProcessSettings {
            rtprio: Some(80),
            memlock: Some(INFINITY),
            core_size: Some(1 << 30),
            nice: Some(-5),
            umask: Some(0o027),
            cpus: Some(vec![(0, 0), (2, 3)]),
        };
        for object in &config.objects {
            assert_eq!(object.process.as_deref(), Some(&expected), "{}", object.id);
        }

        let strict = load_with(&files, main, &LoadOptions { strict_epoch: true, ..LoadOptions::default() });
        for setting in Setting::ALL {
            let refused = strict.diagnostics.iter().any(|d| d.is_error() && d.message.contains(&format!("{} is an iocinit extension", setting.attribute())));
            assert!(refused, "{setting:?}: {:?}", strict.diagnostics);
        }

        let bad = MemFs::new().with(main, "DefaultRunlevel default\nObjectID x\nObjectStartCommand /bin/x\nObjectNice 20\n");
        let loaded = load_with(&bad, main, &LoadOptions::default());
        assert!(loaded.diagnostics.iter().any(|d| d.line == 4 && d.is_error() && d.message.contains("-20 to 19")), "{:?}", loaded.diagnostics);

        for (line, privileged) in [(3, "IOC_RTPRIO=1"), (3, "IOC_MEMLOCK=64M"), (3, "IOC_NICE=-1")] {
            let text = format!("IOC_NAME=vac1\nIOC_CMD=./st.cmd\n{privileged}\nIOC_UMASK=027\n");
            let files = MemFs::new().with(main, "DefaultRunlevel default\n").with_untrusted("/etc/procServ.d/vac1.conf", text.as_str());
            let loaded = load_with(&files, main, &LoadOptions::default());
            let key = privileged.split('=').next().unwrap();
            let refused = loaded.diagnostics.iter().any(|d| d.is_error() && d.line == line && d.message.starts_with(key));
            assert!(refused, "{privileged}: {:?}", loaded.diagnostics);
            assert!(loaded.config.unwrap().objects.iter().all(|o| o.id != "vac1"), "{privileged}: not started");
        }
        let harmless = "IOC_NAME=vac1\nIOC_CMD=./st.cmd\nIOC_RTPRIO=0\nIOC_NICE=5\nIOC_CORESIZE=infinity\nIOC_UMASK=027\nIOC_CPUS=1\n\
                        IOC_STATE_DIR=/var/lib/ioc/vac1\n";
        let files = MemFs::new().with(main, "DefaultRunlevel default\n").with_untrusted("/etc/procServ.d/vac1.conf", harmless);
        let loaded = load_with(&files, main, &LoadOptions::default());
        assert!(!loaded.has_errors(), "{:?}", loaded.diagnostics);

        // A state directory root makes and gives away: below
        // IocStateDirectory unless root controls the file.
        for (conf, dir, refused) in [
            ("", "/etc/cron.d", true),
            ("", "/var/lib/ioc", true),
            ("", "/var/lib/iocx/a", true),
            ("IocStateDirectory /srv/ioc\n", "/srv/ioc/vac1/autosave", false),
            ("IocStateDirectory /srv/ioc\n", "/var/lib/ioc/vac1", true),
        ] {
            let text = format!("IOC_NAME=vac1\nIOC_CMD=./st.cmd\nIOC_STATE_DIR={dir}\n");
            let conf = format!("DefaultRunlevel default\n{conf}");
            for untrusted in [true, false] {
                let files = MemFs::new().with(main, conf.as_str());
                let files = if untrusted { files.with_untrusted("/etc/procServ.d/vac1.conf", text.as_str()) } else { files.with("/etc/procServ.d/vac1.conf", text.as_str()) };
                let loaded = load_with(&files, main, &LoadOptions::default());
                let error = loaded.diagnostics.iter().any(|d| d.is_error() && d.line == 3 && d.message.starts_with("IOC_STATE_DIR: expected a directory below"));
                assert_eq!(error, refused && untrusted, "{conf} {dir} untrusted {untrusted}: {:?}", loaded.diagnostics);
            }
        }
    }

    #[test]
    fn privileged_settings_are_those_that_can_take_the_board() {
        let mut s = ProcessSettings::default();
        for (setting, text) in [(Setting::RtPrio, "0"), (Setting::CoreSize, "infinity"), (Setting::Nice, "5"), (Setting::Umask, "027"), (Setting::Cpus, "1")] {
            s.set(setting, text).unwrap();
        }
        assert_eq!(s.privileged(), None, "lowering or harmless: {s:?}");
        for (setting, text) in [(Setting::RtPrio, "1"), (Setting::MemLock, "0"), (Setting::Nice, "-1")] {
            let mut s = s.clone();
            s.set(setting, text).unwrap();
            assert_eq!(s.privileged(), Some(setting));
        }
    }
}

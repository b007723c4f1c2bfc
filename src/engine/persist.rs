//! The persistent state file: what differs from the configuration because
//! someone said so (enable, disable, RUNONCE, objrl), written atomically
//! without allocating, read once at load.

use super::*;

impl<O: Os> Engine<O> {
    /// Writes enable/disable and objrl changes that differ from the
    /// configuration (temp file, fsync, rename).
    pub(super) fn save_state(&mut self) {
        let Some(path) = &self.state_file else { return };
        if let Some(dir) = path.to_bytes().iter().rposition(|&b| b == b'/') {
            let _ = crate::sys::mkdir_p(&path.to_bytes()[..dir], 0o755);
        }
        let config = &self.config;
        let objs = &self.objs;
        let result = crate::sys::write_atomic(path, |fd| {
            fd.write_all(b"# iocinit state: run-time changes to the configuration; written by iocinit\n")?;
            for (o, st) in config.objects.iter().zip(objs.iter()) {
                let configured = o.runlevels.iter().fold(0, |m, r| m | runlevel_bit(config, r));
                if st.enabled != o.enabled {
                    fd.write_all(if st.enabled { b"enable " } else { b"disable " })?;
                    fd.write_all(o.id.as_bytes())?;
                    fd.write_all(b"\n")?;
                }
                if st.runlevels != configured {
                    fd.write_all(b"runlevels ")?;
                    fd.write_all(o.id.as_bytes())?;
                    for (b, r) in config.runlevels.iter().enumerate().take(64) {
                        if st.runlevels & (1 << b) != 0 {
                            fd.write_all(b" ")?;
                            fd.write_all(r.name.as_bytes())?;
                        }
                    }
                    fd.write_all(b"\n")?;
                }
            }
            Ok(())
        });
        if let Err(e) = result {
            crate::logging::error!("unable to save state to {}: {}", path.to_string_lossy(), crate::sys::errno_text(e));
        }
    }

    pub(super) fn load_state(&mut self) {
        let Some(path) = &self.state_file else { return };
        let text = match crate::files::read_to_string(std::path::Path::new(path.to_string_lossy().as_ref())) {
            Ok(t) => t,
            Err(_) => return,
        };
        for (n, line) in text.lines().enumerate() {
            let mut words = line.split_ascii_whitespace();
            let (Some(verb), Some(id)) = (words.next(), words.next()) else { continue };
            if verb.starts_with('#') {
                continue;
            }
            let Some(i) = self.find(id) else {
                crate::logging::info!("{}:{}: object {id} no longer exists; ignored", path.to_string_lossy(), n + 1);
                continue;
            };
            match verb {
                "enable" => self.objs[i].enabled = true,
                "disable" => self.objs[i].enabled = false,
                "runlevels" => self.objs[i].runlevels = words.fold(0, |m, r| m | runlevel_bit(&self.config, r)),
                _ => crate::logging::warn!("{}:{}: unknown state entry \"{verb}\"", path.to_string_lossy(), n + 1),
            }
        }
    }
}

//! Mode P's power-loss layer (placeholder until the FUSE layer lands).

use std::path::Path;

pub struct Lossy;

impl Lossy {
    pub fn mount(_backing: &Path, _mount: &Path) -> anyhow::Result<Lossy> {
        anyhow::bail!("the power-loss layer is not available in this build")
    }

    pub fn power_loss(&mut self) -> anyhow::Result<()> {
        Ok(())
    }

    pub fn unmount(self) {}
}

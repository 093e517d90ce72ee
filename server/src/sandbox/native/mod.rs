//! Native backend: placeholder, being written.
use super::*;
pub struct NativeBackend;
impl NativeBackend {
    pub async fn start(&self, _spec: SandboxSpec) -> Result<Sandbox, SandboxError> { unimplemented!() }
    pub fn features(&self) -> Vec<String> { vec![] }
}

//! `send(target, text)`: a message to a chat of a configured channel
//! (`telegram:123456789`), as `localgpt channels send` sends one.

use rhai::NativeCallContext;

use crate::delivery::{Target, send};
use crate::script::catalog::Binder;
use crate::script::context::{RhaiResult, run_context};

pub(crate) fn register(b: &mut Binder) {
    b.func(
        "send",
        "send(target: String, text: String)",
        "Sends text to a chat of a configured channel, e.g. send(\"telegram:123456789\", \"done\"); long text goes as several messages. Throws when the target or the channel is wrong or the service refuses.",
        |call: NativeCallContext, target: &str, text: &str| -> RhaiResult<()> {
            let run = run_context(&call)?;
            let target = Target::parse(target).map_err(|err| err.to_string())?;
            run.block_on(send(&run.config, target, text))?
                .map_err(|err| err.to_string().into())
        },
    );
}

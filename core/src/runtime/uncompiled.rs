//! Keras users call `fit` on the model itself; here only a compiled model trains. These traits
//! exist so that `fit` or `evaluate` on an uncompiled model fails to compile with a message that
//! says what to do, rather than "no method named `fit`".

use super::{Error, Evaluation, History, Model};

/// Never implemented: the bound that `fit`/`evaluate` on an uncompiled model cannot meet.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not compiled, so it cannot be trained or evaluated",
    label = "call `.compile(optimizer, loss)` on the model first",
    note = "e.g. `let mut model = model.compile(RMSprop::new(0.001), Loss::mse()); model.fit(x, y, &FitOptions::default())?;`"
)]
pub trait IsCompiled {}

/// `fit` and `evaluate` on a model that has not been compiled: a compile error that says to call
/// `compile` first. In the prelude, so the message reaches every user.
pub trait CompileFirst: Model {
    /// Not callable: compile the model first (`model.compile(optimizer, loss)`).
    fn fit<X, Y, O>(&mut self, _x: X, _y: Y, _options: O) -> Result<History, Error>
    where
        Self: IsCompiled,
    {
        unreachable!("no model implements IsCompiled")
    }

    /// Not callable: compile the model first (`model.compile(optimizer, loss)`).
    fn evaluate<X, Y, B>(&mut self, _x: X, _y: Y, _batch_size: B) -> Result<Evaluation, Error>
    where
        Self: IsCompiled,
    {
        unreachable!("no model implements IsCompiled")
    }
}

impl<M: Model> CompileFirst for M {}

/// What `compile` returns on the stand-in of a model whose declaration has errors: it takes
/// every call a compiled model takes, so that those calls add no "no method named ..." errors
/// of their own to the declaration's. It cannot be built: the program does not compile.
#[doc(hidden)]
#[derive(Debug)]
pub struct DeclarationFailed(());

#[doc(hidden)]
#[allow(clippy::unused_self, missing_docs)]
impl DeclarationFailed {
    pub fn fit<X, Y, F>(&mut self, _x: X, _y: Y, _options: F) -> Result<History, Error> {
        unreachable!("a model whose declaration failed does not compile")
    }
    pub fn evaluate<X, Y, B>(&mut self, _x: X, _y: Y, _b: B) -> Result<Evaluation, Error> {
        unreachable!("a model whose declaration failed does not compile")
    }
    pub fn train_on_batch<X, Y>(&mut self, _x: X, _y: Y) -> Result<f32, Error> {
        unreachable!("a model whose declaration failed does not compile")
    }
    pub fn predict<X>(&self, _x: X) -> Result<ndarray::ArrayD<f32>, Error> {
        unreachable!("a model whose declaration failed does not compile")
    }
    pub fn model(&self) -> &Self {
        self
    }
    pub fn summary(&self) -> crate::shape::Summary {
        unreachable!("a model whose declaration failed does not compile")
    }
}

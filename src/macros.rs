//! Macros shared by the request builders.

/// Builder setters `fn name(self, impl Into<String>) -> Self` for optional
/// text fields of the same name, each with its doc comment.
macro_rules! text_setters {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {$(
        $(#[$doc])*
        pub fn $name(mut self, value: impl Into<String>) -> Self {
            self.$name = Some(value.into());
            self
        }
    )*};
}

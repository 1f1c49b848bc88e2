//! Positions in source files, which every diagnostic points at.

/// Index of a source file in the [`crate::diagnostic::sources::Sources`] table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct FileId(pub u32);

/// A position in a source file: 1-based line and column (in characters),
/// and the length of the text it covers (at least 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Span {
    pub file: FileId,
    pub line: u32,
    pub col: u32,
    pub len: u32,
}

impl Span {
    pub fn new(file: FileId, line: u32, col: u32, len: u32) -> Self {
        Span { file, line, col, len: len.max(1) }
    }

    /// The same position moved `chars` characters to the right, covering `len`.
    pub fn shifted(self, chars: u32, len: u32) -> Self {
        Span { col: self.col + chars, len: len.max(1), ..self }
    }
}

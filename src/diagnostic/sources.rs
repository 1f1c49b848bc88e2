//! The table of source files a stack was read from. Spans refer to files by
//! [`FileId`]; this table turns them back into names and byte ranges.

use std::ops::Range;
use std::path::PathBuf;

use super::span::{FileId, Span};

#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: PathBuf,
    /// The path as shown to the user (relative to the stack directory).
    pub display: String,
    pub text: String,
    line_starts: Vec<usize>,
}

#[derive(Debug, Clone, Default)]
pub struct Sources {
    files: Vec<SourceFile>,
}

impl Sources {
    pub fn add(&mut self, path: PathBuf, display: String, text: String) -> FileId {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        self.files.push(SourceFile { path, display, text, line_starts });
        FileId(self.files.len() as u32 - 1)
    }

    /// Replace a file's text (files are registered before they are read).
    pub fn set_text(&mut self, id: FileId, text: String) {
        let file = &mut self.files[id.0 as usize];
        file.line_starts = std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect();
        file.text = text;
    }

    /// Take the text of files this table registered but did not read (an
    /// overlay of another environment) from a table of the same files.
    pub fn fill_from(&mut self, other: &Sources) {
        for (mine, theirs) in self.files.iter_mut().zip(&other.files) {
            if mine.path == theirs.path && mine.text.is_empty() && !theirs.text.is_empty() {
                mine.text = theirs.text.clone();
                mine.line_starts = theirs.line_starts.clone();
            }
        }
    }

    pub fn get(&self, id: FileId) -> &SourceFile {
        &self.files[id.0 as usize]
    }

    pub fn display(&self, id: FileId) -> &str {
        &self.get(id).display
    }

    pub fn iter(&self) -> impl Iterator<Item = &SourceFile> {
        self.files.iter()
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// `file:line:column` of a span.
    pub fn location(&self, span: Span) -> String {
        format!("{}:{}:{}", self.display(span.file), span.line, span.col)
    }

    /// The byte range a span covers, clamped to its line.
    pub fn byte_range(&self, span: Span) -> Range<usize> {
        let file = self.get(span.file);
        let line_idx = (span.line.max(1) - 1) as usize;
        let Some(&start) = file.line_starts.get(line_idx) else {
            return file.text.len()..file.text.len();
        };
        let end_of_line = file.line_starts.get(line_idx + 1).map_or(file.text.len(), |e| e - 1);
        let line = &file.text[start..end_of_line];
        let mut chars = line.char_indices().map(|(i, _)| i).chain(std::iter::once(line.len()));
        let col = (span.col.max(1) - 1) as usize;
        let from = chars.nth(col).unwrap_or(line.len());
        let to = line[from..]
            .char_indices()
            .map(|(i, _)| from + i)
            .chain(std::iter::once(line.len()))
            .nth(span.len as usize)
            .unwrap_or(line.len());
        (start + from)..(start + to.max(from))
    }
}

"""Sphinx extension: one search index that serves English and Spanish pages alike.

The site has a single search index, built with one language. This replaces English's with a
variant that removes accents before stemming, in the index (Python) and in the query (the
JavaScript stemmer), and also ignores Spanish stop words. So "codificación" and
"codificacion" find the same Spanish pages, while English search works as before.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from sphinx.search.en import SearchEnglish, js_porter_stemmer
from sphinx.search.es import spanish_stopwords

JS_FOLD = """
var PorterStemmer = Stemmer;
Stemmer = function() {
  var porter = new PorterStemmer();
  this.stemWord = function(w) {
    return porter.stemWord(w.normalize("NFD").replace(/[\\u0300-\\u036f]/g, ""));
  };
};
"""


def fold(word: str) -> str:
    """`word` lower-cased and without accents: "Codificación" -> "codificacion"."""
    decomposed = unicodedata.normalize("NFD", word.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


class SearchBilingual(SearchEnglish):
    """English search (Porter stemmer) on accent-folded words, with Spanish stop words too."""

    js_stemmer_code = js_porter_stemmer + JS_FOLD
    stopwords = SearchEnglish.stopwords | spanish_stopwords

    def stem(self, word: str) -> str:
        return super().stem(fold(word))


def setup(app: Any) -> dict:
    app.add_search_language(SearchBilingual)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

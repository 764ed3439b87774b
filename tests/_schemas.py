"""Schema texts shared by several test modules (small, fast versions of the example schemas)."""

#: The penguins measurements as inputs and one tabular feature; append the groups.
BIRDS_HEADER = """\
schema_version: 1
name: birds
inputs:
  bill_length_mm: {type: number}
  bill_depth_mm: {type: number}
  flipper_length_mm: {type: number}
  body_mass_g: {type: number}
features:
  body: {type: tabular, inputs: [bill_length_mm, bill_depth_mm, flipper_length_mm, body_mass_g]}
groups:
"""

#: A text and a number input with one feature each; append the groups.
SHOP_HEADER = """\
schema_version: 1
name: shop
inputs:
  title: {type: text}
  price: {type: number}
features:
  words: {type: tfidf, inputs: [title]}
  meta: {type: tabular, inputs: [price]}
groups:
"""

#: The movies schema with a small vocabulary, for the 1,200-film sample in tests/fixtures.
MOVIES_SMALL = """\
schema_version: 1
name: films
inputs:
  title: {type: text}
  director: {type: text, required: false}
  writer: {type: text, required: false}
  cast: {type: text, required: false}
  runtime: {type: number, required: false}
features:
  people: {type: tfidf, inputs: [title, director, writer, cast], params: {min_df: 2, max_features: 2000}}
  length: {type: tabular, inputs: [runtime]}
groups:
  language:
    type: multiclass
    labels: [English, French, Spanish, Japanese, Italian, Hindi, German, Arabic, other]
    features: [people]
  decade:
    type: multiclass
    labels: [1940s, 1950s, 1960s, 1970s, 1980s, 1990s, 2000s, 2010s]
  genres:
    type: multilabel
    labels: [Drama, Comedy, Romance, Action, Crime, Thriller, Horror, Documentary, Sci-Fi, Fantasy,
             Adventure, Musical, Biography, Mystery, War, Family, Animation, Western, Sport, History, Music]
  mpaa:
    type: multiclass
    labels: [G, PG, PG-13, R, NC-17]
    when: {language: [English]}
"""

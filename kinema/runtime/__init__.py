"""The runtime under both model families (Kinema's own pipelines and the diffusers backends): what a
generation does besides running the model, written once.

| module        | what                                                                            |
|---------------|---------------------------------------------------------------------------------|
| `tasks.py`    | the tasks as one table (names, inputs, motion rule, output kind, C2PA task)     |
| `request.py`  | a request resolved against a model's defaults and size rules: `Request`         |
| `progress.py` | one `Progress` over a whole generation (steps, decodes, chunks), with cancel    |
| `media.py`    | given images and videos read, checked and fitted to the output size             |
| `output.py`   | where frames go: an MP4 (labelled, signed), an image, a caller's sink or memory |
| `extend.py`   | the chunked extension loop and its cross-fade                                   |

A model family supplies only what differs: how to load, how to run one generation (or one chunk), and
what it can do. Imports: `kinema.io`, `kinema.errors`, `kinema.pipelines.sizes` (torch-free), never
`kinema.backends` or a pipeline class, so both layers can stand on it.
"""

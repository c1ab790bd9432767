"""Media: images and video attached to posts, prepared once and kept content-addressed.

Owns each platform's media rules as data (`rules`), preparing a file to fit them (`prepare`: sniff the type,
strip metadata, keep orientation, resize and re-encode images with Pillow; `mp4` reads an MP4's boxes without
transcoding), the content-addressed media store beside the queue (`store`), the checks that report every
violation before anything is queued (`check`), the values passed around (`model`: MediaItem, PreparedMedia,
MediaIssue), the per-post hook with its cache that `compile` calls (`batch`: MediaPreparer) and inline
thumbnails for the HTML preview (`preview`).
May import: the foundation modules (`campaign.errors`, `campaign.secrets`, `campaign.logs`) and
`campaign.text` only; it sits in the same layer as `text`. Pillow is imported inside functions, so importing
this package stays light.
"""

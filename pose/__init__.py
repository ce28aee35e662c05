"""From a video to skeletons: pose estimators behind one small interface (docs/skeletons.md, "Video in").

Modules that run inside the estimator's interpreter (`estimator`, `mediapipe_pose`, `video`, `run`, and
`edit_video`, which edits test videos with OpenCV) import only NumPy, OpenCV, the estimator's own package and
`pose.source` (standard library only), never the rest of the project, so they also run in an isolated
virtualenv whose pins differ from the project's (MediaPipe 0.10.14 needs numpy<2 and protobuf<5).
"""

"""The ground floor: settings, the workspace's folders and storage (a folder or an S3 bucket).

Everything else stands on it; it imports nothing of Gongyu's.
"""

# Offline mode in PowerShell (Windows), as offline.sh is in bash or zsh: in the
# worker's terminal, run
#     . .\offline.ps1
# once, before python worker.py. The worker then asks the stand-in services
# (python standin.py, in a terminal of its own) instead of icanhazip.com and
# ip-api.com. A new terminal is online again.
$env:IP_SERVICE_URL = "http://127.0.0.1:9000"
$env:GEO_SERVICE_URL = "http://127.0.0.1:9000/json"

# Offline mode, for a talk with no internet: in the worker's terminal, run
#     source offline.sh
# once, before python worker.py. The worker then asks the stand-in services
# (python standin.py, in a terminal of its own) instead of icanhazip.com and
# ip-api.com. A new terminal is online again.
export IP_SERVICE_URL=http://127.0.0.1:9000
export GEO_SERVICE_URL=http://127.0.0.1:9000/json

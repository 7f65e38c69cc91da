"""The broker's access rules, written by the project: Mosquitto's dynamic-security plugin.

`dynsec` builds the plugin's state (its JSON file) and the control-API commands that change a
running broker, as plain values; `files` writes a runnable configuration directory and applies a
device's login to a running broker; `config_cmd` is `elev-collector broker-config`.
"""

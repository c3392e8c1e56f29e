#!/usr/bin/env python3
"""Dashboard load time on the embedded store (issue 12): starts `liftwatch
demo` (24 elevators, 183 days; the embedded broker and SQLite store), waits
for the history, then signs in to each view 5 times in headless Chromium and
prints `data-load-ms` (sign-in to the last chart drawn) and the median.

    cargo build -p liftwatch        # or --release, then change BIN below
    pip install selenium            # drives Debian's chromium + chromedriver
    python3 benches/dashboard_load.py
"""
import subprocess, time, os, signal, json, statistics, urllib.request
import pathlib
BIN=os.environ.get('LIFTWATCH_BIN', str(pathlib.Path(__file__).resolve().parents[1] / 'target/debug/liftwatch'))
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
port=18383
p=subprocess.Popen([BIN,"demo","--listen",f"127.0.0.1:{port}","--elevators","24","--days","183"],stdout=subprocess.PIPE,stderr=subprocess.DEVNULL,text=True,env=dict(os.environ,LIFTWATCH_LOG="warn"))
reg=firm=None
while reg is None or firm is None:
    l=p.stdout.readline()
    if "regulator token:" in l: reg=l.split(":",1)[1].strip()
    if "firm token:" in l: firm=l.split(":",1)[1].split()[0].strip()
# wait for the history (runs of ~183 days x 12 elevators in demo-east)
t0=time.time()
while time.time()-t0<240:
    r=urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/projects/demo-east/kpis",headers={"Authorization":"Bearer "+reg})
    k=json.load(urllib.request.urlopen(r))
    if k["runs"]>=12*300*175: break
    time.sleep(2)
print("history in:",k["runs"],"runs after %.0fs"%(time.time()-t0))
o=webdriver.ChromeOptions(); o.binary_location="/usr/bin/chromium"
for a in ["--headless=new","--no-sandbox","--disable-gpu","--window-size=1280,900"]: o.add_argument(a)
d=webdriver.Chrome(service=Service("/usr/bin/chromedriver"),options=o)
res={}
for name,tok in [("firm",firm),("regulator",reg)]:
    ms=[]
    for i in range(5):
        d.get(f"http://127.0.0.1:{port}/")
        d.execute_script("sessionStorage.clear()")
        d.get(f"http://127.0.0.1:{port}/")
        e=d.find_element(By.NAME,"token"); e.send_keys(tok); e.submit()
        t=time.time()
        while time.time()-t<60:
            st=d.execute_script("var v=document.querySelector('#view'); return v && v.dataset.state")
            if st=="ready": break
            time.sleep(0.05)
        ms.append(float(d.execute_script("return document.querySelector('#view').dataset.loadMs")))
    res[name]=ms
    print(name, "loadMs runs:", ms, "median:", statistics.median(ms))
d.quit()
p.send_signal(signal.SIGINT); p.wait()

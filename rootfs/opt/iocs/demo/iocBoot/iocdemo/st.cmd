#!../../bin/demoIoc
#- Startup script of the demo IOC of the iocinit demo board.
#- Interpreted by bin/demoIoc, a stand-in IOC shell (POSIX sh); a real IOC's
#- st.cmd starts the same way, naming its IOC binary.
epicsEnvSet("IOC", "iocdemo")
epicsEnvSet("TOP", "/opt/iocs/demo")
cd "${TOP}"
dbLoadRecords("db/demo.db", "P=demo:")
cd "${TOP}/iocBoot/${IOC}"
iocInit

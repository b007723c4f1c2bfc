#!/usr/bin/softIoc
#- Startup script of the demo IOC of the iocinit demo board. procServ runs it
#- as ./st.cmd: the kernel starts the real EPICS 7 softIoc named above
#- (board/common/build-epics; /usr/bin/softIoc links to /epics/bin/<arch>/softIoc,
#- which finds its dbd in /epics/dbd), and the IOC shell runs the lines below.
epicsEnvSet("IOC", "iocdemo")
epicsEnvSet("TOP", "/opt/iocs/demo")
cd "${TOP}"
dbLoadRecords("db/demo.db", "P=demo:")
cd "${TOP}/iocBoot/${IOC}"
iocInit
